#include "core/model/fast_dropout.h"

#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include <cmath>

namespace autoglm::core::model {
namespace {


TEST(FastDropout, KeepsTheRequestedFractionWithScale) {
  const double p = 0.3;
  at::Tensor m = dropoutMask({200000}, p, 1234, at::TensorOptions());
  const double kept = m.ne(0).to(at::kDouble).mean().item<double>();
  // 200k Bernoulli(0.7) draws: standard deviation of the mean is about 0.001.
  EXPECT_NEAR(kept, 1.0 - p, 0.005);
  EXPECT_TRUE(m.eq(0).logical_or(m.sub(1.0 / (1.0 - p)).abs().lt(1e-6)).all().item<bool>());
}

TEST(FastDropout, SameSeedSameMaskForAnyThreadCountOtherSeedDiffers) {
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  at::Tensor a = dropoutMask({5000, 7}, 0.5, 99, at::TensorOptions());
  at::set_num_threads(2);
  at::Tensor b = dropoutMask({5000, 7}, 0.5, 99, at::TensorOptions());
  at::set_num_threads(threads);
  EXPECT_TRUE(at::equal(a, b));
  at::Tensor c = dropoutMask({5000, 7}, 0.5, 100, at::TensorOptions());
  EXPECT_FALSE(at::equal(a, c));
}

TEST(FastDropout, RepeatableUnderManualSeedAndIdentityInEval) {
  at::Tensor x = at::ones({1000});
  at::manual_seed(5);
  at::Tensor a = fastDropout(x, 0.5, true);
  at::Tensor a2 = fastDropout(x, 0.5, true);
  at::manual_seed(5);
  at::Tensor b = fastDropout(x, 0.5, true);
  EXPECT_TRUE(at::equal(a, b));
  EXPECT_FALSE(at::equal(a, a2));  // successive calls draw new masks
  EXPECT_TRUE(at::equal(fastDropout(x, 0.5, false), x));
  EXPECT_TRUE(at::equal(fastDropout(x, 0.0, true), x));
}

TEST(FastDropout, GradientIsTheMask) {
  at::Tensor x = at::randn({64, 3}).requires_grad_();
  at::manual_seed(8);
  at::Tensor y = fastDropout(x, 0.25, true);
  y.sum().backward();
  // Where an element was kept, y = x / 0.75 and the gradient is 1/0.75; else both are 0.
  at::Tensor kept = y.detach().ne(0);
  EXPECT_TRUE(at::allclose(x.grad(), kept.to(at::kFloat) / 0.75));
  EXPECT_TRUE(at::allclose(y.detach(), x.detach() * kept.to(at::kFloat) / 0.75));
}

}  // namespace
}  // namespace autoglm::core::model
