#pragma once
// The optimizer of a run (train.optimizer, train.fused_optimizer,
// train.embedding_update), and Adam and AdamW with the whole update of a
// parameter in one pass over memory.
//
// LibTorch's CPU Adam/AdamW run about ten separate tensor ops per parameter,
// each a full pass with temporaries; on the embedding table that dominates a
// training step. These subclasses keep the optimizer's state layout (so
// checkpoints are interchangeable with torch::optim::Adam/AdamW) and its
// arithmetic, and fall back to the base implementation for anything but dense
// contiguous float32 CPU parameters, and for amsgrad.
//
// Both can freeze the second moment after a given step (the variance freeze of
// 1-bit Adam): from step `after` + 1 on, exp_avg_sq keeps the value it had after
// step `after` and its bias correction stays 1 - beta2^after. An element whose
// frozen value is still zero (no gradient before the freeze) takes
// (1 - beta2^after) * g^2 from its first nonzero gradient, so that its step is
// about lr rather than m / eps. A frozen optimizer has no fallback: a parameter
// the fused path cannot take (or amsgrad) is an error.
//
// Sparse gradients. Every optimizer makeOptimizer returns takes a parameter
// whose gradient is a sparse COO tensor of its shape, coalesced or not (the
// token embedding's with train.embedding_update sparse or lazy):
//  - not lazy (the default): the step is the dense step on the densified
//    gradient, bit for bit (Adam's moments of untouched rows still decay, and
//    weight decay reaches every row). The fused path visits every row without
//    a dense gradient; LibTorch's Adam/AdamW and the fallback get it densified.
//  - lazy (setLazyRows(true)): only the gradient's rows move, each by the fused
//    per-element arithmetic (fused_optimizer: false too), TF's LazyAdam and
//    PyTorch's SparseAdam: m and v of untouched rows keep their values, and the
//    bias corrections use the parameter's step count, which counts the steps
//    in which it had a gradient, as dense. Weight decay reaches a row only in
//    the steps that touch it (AdamW: p *= 1 - lr*wd then; Adam: g += wd*p on
//    the touched rows), so a rarely seen row decays less than in a dense run.
//    The second-moment freeze applies to touched rows as to dense elements.
//    A step costs O(touched rows x row width). Dense gradients step as ever.
//  - Adagrad: see adagrad.h.

#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>

#include <memory>
#include <vector>

#include "trainer/config/experiment_config.h"
#include "trainer/optim/adagrad.h"
#include "trainer/optim/row_sparse.h"

namespace autoglm::trainer {

// The step after which the second moment stops moving; 0 = never.
class SecondMomentFreeze {
 public:
  void freezeSecondMomentAfter(int64_t step) { freeze_after_ = step; }
  int64_t secondMomentFrozenAfter() const { return freeze_after_; }

 protected:
  ~SecondMomentFreeze() = default;
  int64_t freeze_after_ = 0;
};

class FusedAdamW : public torch::optim::AdamW, public SecondMomentFreeze, public LazyRows {
 public:
  using torch::optim::AdamW::AdamW;
  torch::Tensor step(LossClosure closure = nullptr) override;
};

class FusedAdam : public torch::optim::Adam, public SecondMomentFreeze, public LazyRows {
 public:
  using torch::optim::Adam::Adam;
  torch::Tensor step(LossClosure closure = nullptr) override;
};

// LibTorch's Adam and AdamW, taking sparse gradients as above.
class LibTorchAdamW : public torch::optim::AdamW, public LazyRows {
 public:
  using torch::optim::AdamW::AdamW;
  torch::Tensor step(LossClosure closure = nullptr) override;
};

class LibTorchAdam : public torch::optim::Adam, public LazyRows {
 public:
  using torch::optim::Adam::Adam;
  torch::Tensor step(LossClosure closure = nullptr) override;
};

// Adam, AdamW (fused or LibTorch's) or Adagrad with the train section's
// learning rate and weight decay, lazy when train.embedding_update is lazy.
std::unique_ptr<torch::optim::Optimizer> makeOptimizer(const TrainConfig& t, std::vector<at::Tensor> params);

// Adam's or AdamW's second moment (exp_avg_sq) of parameter `p`; undefined
// before its first step, or for another optimizer.
at::Tensor secondMoment(const torch::optim::Optimizer& opt, const at::Tensor& p);

// Freezes the second moment of `opt` after `step` (see above). Throws
// ConfigError naming train.fused_optimizer when `opt` is not fused.
void freezeSecondMomentAfter(torch::optim::Optimizer& opt, int64_t step);

// Sets the learning rate of every parameter group.
void setLearningRate(torch::optim::Optimizer& opt, double lr);

}  // namespace autoglm::trainer
