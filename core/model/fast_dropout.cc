#include "core/model/fast_dropout.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>

#include <mutex>

#include "core/error.h"
#include "core/splitmix.h"

namespace autoglm::core::model {
namespace {

void fillMask(float* m, int64_t n, double p, uint64_t seed) {
  // keep when the top 24 bits of the hash are >= p * 2^24
  const auto threshold = static_cast<uint32_t>(p * static_cast<double>(1u << 24));
  const float scale = static_cast<float>(1.0 / (1.0 - p));
  const uint64_t base = splitmix64(seed);
  at::parallel_for(0, n, 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const auto u = static_cast<uint32_t>(splitmix64(base ^ static_cast<uint64_t>(i)) >> 40);
      m[i] = u >= threshold ? scale : 0.0f;
    }
  });
}

}  // namespace

uint64_t nextDropoutSeed() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get<at::CPUGeneratorImpl>()->random64();
}

at::Tensor dropoutMask(at::IntArrayRef sizes, double p, uint64_t seed, const at::TensorOptions& options) {
  AUTOGLM_CHECK(p >= 0.0 && p < 1.0, "dropout probability must be in [0, 1), got ", p);
  at::Tensor m = at::empty(sizes, options.dtype(at::kFloat));
  fillMask(m.data_ptr<float>(), m.numel(), p, seed);
  return options.dtype() == at::kFloat ? m : m.to(options.dtype());
}

at::Tensor fastDropout(const at::Tensor& x, double p, bool training) {
  if (!training || p <= 0.0) return x;
  if (!x.device().is_cpu()) return at::dropout(x, p, training);
  // The mask is a constant for autograd, so x * mask differentiates to grad * mask.
  return x * dropoutMask(x.sizes(), p, nextDropoutSeed(), x.options());
}

}  // namespace autoglm::core::model
