#pragma once
// The optimizer of a run (train.optimizer, train.fused_optimizer), and Adam and
// AdamW with the whole update of a parameter in one pass over memory.
//
// LibTorch's CPU Adam/AdamW run about ten separate tensor ops per parameter,
// each a full pass with temporaries; on the embedding table that dominates a
// training step. These subclasses keep the optimizer's state layout (so
// checkpoints are interchangeable with torch::optim::Adam/AdamW) and its
// arithmetic, and fall back to the base implementation for anything but dense
// contiguous float32 CPU parameters, and for amsgrad.

#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>

#include <memory>
#include <vector>

#include "trainer/experiment_config.h"

namespace autoglm::trainer {

class FusedAdamW : public torch::optim::AdamW {
 public:
  using torch::optim::AdamW::AdamW;
  torch::Tensor step(LossClosure closure = nullptr) override;
};

class FusedAdam : public torch::optim::Adam {
 public:
  using torch::optim::Adam::Adam;
  torch::Tensor step(LossClosure closure = nullptr) override;
};

// Adam or AdamW (fused or LibTorch's) with the train section's learning rate
// and weight decay.
std::unique_ptr<torch::optim::Optimizer> makeOptimizer(const TrainConfig& t, std::vector<at::Tensor> params);

// Adam's or AdamW's second moment (exp_avg_sq) of parameter `p`; undefined
// before its first step, or for another optimizer.
at::Tensor secondMoment(const torch::optim::Optimizer& opt, const at::Tensor& p);

// Sets the learning rate of every parameter group.
void setLearningRate(torch::optim::Optimizer& opt, double lr);

}  // namespace autoglm::trainer
