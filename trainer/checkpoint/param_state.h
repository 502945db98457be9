#pragma once
// What a checkpoint keeps of one parameter: the slice of it a model part holds
// (tensor parallel), and its Adam or AdamW moments. Shared by saving and
// loading (sharded_checkpoint.h, shard_loader.h).

#include <ATen/core/Tensor.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/model/graph_classifier.h"

namespace torch::optim {
class Optimizer;
}

namespace autoglm::trainer {

// "block0.proj.weight" -> the part's slice of it, or nothing (the whole tensor).
// A parameter of the model itself, outside every part ("learned_edge_scale"),
// is never sharded.
std::optional<core::model::ParamShard> shardOfParam(const core::model::GraphClassifierImpl& model,
                                                    const std::string& name);

// Adam and AdamW keep the same per-parameter state in different types.
struct Moments {
  int64_t step = 0;
  std::vector<std::pair<std::string, at::Tensor>> tensors;  // exp_avg, exp_avg_sq[, max_exp_avg_sq]
};

// The moments of `p`, or nothing before its first step. Throws CheckpointError
// for an optimizer other than Adam or AdamW.
std::optional<Moments> momentsOf(torch::optim::Optimizer& opt, const at::Tensor& p);
// Sets the moments of `p` (the tensors are kept, not copied).
void setMoments(torch::optim::Optimizer& opt, const at::Tensor& p, const Moments& m);
// Throws CheckpointError naming `where` unless `opt` is Adam or AdamW.
void checkRestorable(torch::optim::Optimizer& opt, const std::string& where);

}  // namespace autoglm::trainer
