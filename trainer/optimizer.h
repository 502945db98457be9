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

// A frozen variance (freezeVarianceAfter) keeps a parameter's second moment,
// and its bias correction, as they were after that parameter's `after`-th
// update; the optimizer then has no fallback and throws for parameters the
// fused update cannot take.
class FusedAdamW : public torch::optim::AdamW {
 public:
  using torch::optim::AdamW::AdamW;
  torch::Tensor step(LossClosure closure = nullptr) override;
  void freezeVarianceAfter(int64_t after) { freeze_after_ = after; }

 private:
  int64_t freeze_after_ = -1;  // -1: never
};

class FusedAdam : public torch::optim::Adam {
 public:
  using torch::optim::Adam::Adam;
  torch::Tensor step(LossClosure closure = nullptr) override;
  void freezeVarianceAfter(int64_t after) { freeze_after_ = after; }

 private:
  int64_t freeze_after_ = -1;
};

// Adam or AdamW (fused or LibTorch's) with the train section's learning rate
// and weight decay.
std::unique_ptr<torch::optim::Optimizer> makeOptimizer(const TrainConfig& t, std::vector<at::Tensor> params);

// 1-bit Adam's frozen variance (parallel.compression.freeze_variance): after
// `after` (> 0) updates, Adam's second moment stops moving, so each update is
// linear in the gradient and a compressor's error feedback delivers, summed
// over steps, what the uncompressed gradients would have. Throws ConfigError
// unless `opt` is a FusedAdam or FusedAdamW.
void freezeVarianceAfter(torch::optim::Optimizer& opt, int64_t after);

// parallel.compression.freeze_variance for the optimizer of a data-parallel
// run: the second moment stops where the compressor's warm-up ends. Throws
// ConfigError for a compressor without warm-up, other than onebit and topk, or
// an optimizer that cannot freeze.
void applyFrozenVariance(const parallel::data_parallel::compression::CompressionConfig& c,
                         torch::optim::Optimizer& opt);

// Sets the learning rate of every parameter group.
void setLearningRate(torch::optim::Optimizer& opt, double lr);

}  // namespace autoglm::trainer
