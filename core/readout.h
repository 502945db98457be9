#pragma once
// Pools node states into one vector per graph.
//   mean_max:  [mean || max] over each graph's nodes (2*dim)
//   mean, max: one of them (dim)
//   attention: softmax-gated sum, gate = Linear(dim, 1) per node (dim)

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include <string>

#include "core/graph_batch.h"

namespace autoglm::core {

class ReadoutImpl : public torch::nn::Module {
 public:
  ReadoutImpl(std::string kind, int64_t dim);
  at::Tensor forward(const at::Tensor& h, const GraphBatch& g);
  int64_t outDim() const { return kind_ == "mean_max" ? 2 * dim_ : dim_; }

 private:
  std::string kind_;
  int64_t dim_;
  torch::nn::Linear gate_{nullptr};
};
TORCH_MODULE(Readout);

}  // namespace autoglm::core
