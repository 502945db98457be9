#pragma once
// One named part of a model's forward pass.
//
// A model is an ordered list of parts, each mapping the activations of the part
// before it (and the batch they belong to) to its own:
//   embed     token ids of the batch -> node states [N, D] (ignores its input)
//   blockK    node states [N, in] -> node states [N, out]
//   readout   node states -> graph vectors [B, R]
//   head      graph vectors -> class logits [B, C]
// A pipeline stage is the same model holding a contiguous slice of the parts;
// a tensor-parallel plan replaces a part by a sharded one with the same
// contract. Model code never branches on the parallel layout.

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <optional>
#include <string>
#include <vector>

#include "core/graph/graph_batch.h"

namespace autoglm::core::model {

// A parameter of a part that holds only a slice of the model's tensor (a
// tensor-parallel part): rows or columns [offset, offset + size(dim)) of a
// tensor of full_size along `dim`.
struct ParamShard {
  int64_t dim = 0;
  int64_t offset = 0;
  int64_t full_size = 0;
};

// What a part outputs, for whoever passes its activations on (a pipeline
// stage's link): rows are the batch's graphs (readout, head) or its nodes, and
// `dim` columns.
struct PartOutput {
  bool per_graph = false;
  int64_t dim = 0;
  int64_t rows(const graph::GraphBatch& g) const { return per_graph ? g.num_graphs : g.num_nodes; }
};

class ModelPart : public torch::nn::Module {
 public:
  virtual at::Tensor forward(const at::Tensor& x, const graph::GraphBatch& g) = 0;
  // For a parameter of this part (its name within the part, "proj.weight"):
  // the slice it holds, or nothing when it holds the whole tensor.
  virtual std::optional<ParamShard> shardOf(const std::string& param) const {
    (void)param;
    return std::nullopt;
  }
  // Lookup tables (train.embedding_update: sparse or lazy): switches this
  // part's table parameters to row-sparse gradients (a sparse COO gradient that
  // holds only the rows a batch looked up, repeated ids not yet summed) and
  // returns their names within the part; a part without tables returns none.
  virtual std::vector<std::string> useRowSparseGradients() { return {}; }
};

}  // namespace autoglm::core::model
