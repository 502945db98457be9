#pragma once
// What a checkpoint keeps of one parameter: the slice of it a model part holds
// (tensor parallel), and its Adam, AdamW or Adagrad state. Shared by saving and
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

// The per-parameter optimizer state: a step count and tensors of the
// parameter's shape (sliced like it). Adam and AdamW keep the same state in
// different types; Adagrad keeps its sum.
struct Moments {
  int64_t step = 0;
  std::vector<std::pair<std::string, at::Tensor>> tensors;  // exp_avg, exp_avg_sq[, max_exp_avg_sq] | sum
};

// Every name a Moments tensor can have, in the order momentsOf gives them.
inline constexpr const char* kMomentNames[] = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq", "sum"};

// The moments of `p`, or nothing before its first step (Adagrad has state,
// step 0, from its construction on). Throws CheckpointError for an optimizer
// other than Adam, AdamW or Adagrad.
std::optional<Moments> momentsOf(torch::optim::Optimizer& opt, const at::Tensor& p);
// Sets the moments of `p` (the tensors are kept, not copied). Throws
// CheckpointError when `m` lacks a tensor the optimizer needs (state saved
// by another optimizer).
void setMoments(torch::optim::Optimizer& opt, const at::Tensor& p, const Moments& m);
// Throws CheckpointError naming `where` unless `opt` is Adam, AdamW or Adagrad.
void checkRestorable(torch::optim::Optimizer& opt, const std::string& where);

}  // namespace autoglm::trainer
