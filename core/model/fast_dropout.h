#pragma once
// Dropout with a counter-based random mask.
//
// LibTorch's CPU dropout draws one Bernoulli sample at a time from the
// Mersenne Twister; on a training step of this model that cost more than the
// attention itself. Here each element's keep/drop decision is a hash
// (splitmix64) of a per-call seed and the element's index: parallel, and
// reproducible for any thread count. The per-call seed is drawn from LibTorch's
// default CPU generator, so at::manual_seed and checkpointed generator state
// still make runs repeatable.

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace autoglm::core::model {

// Draws a 64-bit seed from the default CPU generator.
uint64_t nextDropoutSeed();

// Mask of the given shape with entries 0 or 1/(1-p), drawn from `seed`.
at::Tensor dropoutMask(at::IntArrayRef sizes, double p, uint64_t seed, const at::TensorOptions& options);

// x * mask when training and p > 0, else x. Differentiable.
at::Tensor fastDropout(const at::Tensor& x, double p, bool training);

}  // namespace autoglm::core::model
