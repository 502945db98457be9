#pragma once
// A two-layer graph convolutional network over the corpus graph
// (core/graph/corpus_graph.h), for transductive document classification
// (model.kind: corpus_gcn). The node features are the identity, so the first
// layer's weight is a learned vector per node:
//   H = relu(A (M W1)),  logits = A (dropout(H) W2)
// with A the normalised adjacency, M a node dropout on W1's rows (training
// only; the identity features' dropout) and no biases, as in TextGCN.

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>

#include "core/graph/corpus_graph.h"

namespace autoglm::core::model {

// A symmetric sparse matrix in CSR (int64 row_ptr and col, float val).
struct SymmetricCsr {
  at::Tensor row_ptr, col, val;
  int64_t n = 0;
  static SymmetricCsr of(const graph::CorpusGraph& g);
};

// A x, differentiable in x (the gradient is A g, A being symmetric); rows run
// in parallel. x is [n, d], float32 or float64 (val is cast to it).
at::Tensor symmetricSpmm(const SymmetricCsr& a, const at::Tensor& x);

class CorpusGcn : public torch::nn::Module {
 public:
  // Parameters are drawn from LibTorch's default generator (seed it first).
  CorpusGcn(int64_t nodes, int64_t hidden, int64_t classes, double dropout);
  // Logits [nodes, classes].
  at::Tensor forward(const SymmetricCsr& a);

  at::Tensor w1, w2;

 private:
  double dropout_;
};

}  // namespace autoglm::core::model
