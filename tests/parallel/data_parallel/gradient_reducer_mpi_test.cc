// The gradient reducer over real ranks (run at 1-4 ranks): parameters that no
// rank or only some ranks use, and micro-batches that synchronise only on the
// last. (One process with a simulated peer: gradient_reducer_test.cc.)

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include <vector>

#include "parallel/data_parallel/gradient_reducer.h"
#include "tests/mpi_test_main.h"

namespace autoglm::parallel::data_parallel {
namespace {

// Parameters: a used by every rank, b by no rank, c only by rank 0.
TEST(GradientReducer, ParametersWithoutGradientsDoNotHangTheStep) {
  auto world = test::worldComm();
  const int n = world->size();
  for (const ReducerMode mode : {ReducerMode::kOverlap, ReducerMode::kAfterBackward}) {
    at::Tensor a = at::ones({1000}).set_requires_grad(true);
    at::Tensor b = at::ones({7}).set_requires_grad(true);
    at::Tensor c = at::ones({33}).set_requires_grad(true);
    ReducerOptions ro;
    ro.bucket_bytes = 128;  // a, b and c in separate buckets
    ro.mode = mode;
    GradientReducer reducer({a, b, c}, world, compression::makeCompressor({}), ro);
    EXPECT_EQ(reducer.numBuckets(), 3);
    EXPECT_EQ(reducer.bucketParams(0), std::vector<int64_t>{2});  // reverse order
    for (int step = 0; step < 3; ++step) {
      reducer.beginBackward(true, step);
      at::Tensor loss = (a * static_cast<float>(world->rank() + 1 + step)).sum();
      if (world->rank() == 0) loss = loss + (c * 2.0f).sum();
      loss.backward();
      reducer.finishStep();
      // mean over ranks of (rank + 1 + step)
      const float want_a = static_cast<float>(n + 1) / 2.0f + static_cast<float>(step);
      EXPECT_TRUE(at::allclose(a.grad(), at::full({1000}, want_a))) << core::enumName(mode) << " step " << step;
      EXPECT_FALSE(b.grad().defined()) << core::enumName(mode);
      ASSERT_TRUE(c.grad().defined()) << core::enumName(mode);
      EXPECT_TRUE(at::allclose(c.grad(), at::full({33}, 2.0f / static_cast<float>(n)))) << core::enumName(mode);
      a.mutable_grad().zero_();
      c.mutable_grad().zero_();
    }
  }
}

TEST(GradientReducer, MicroBatchesSynchroniseOnlyOnTheLast) {
  auto world = test::worldComm();
  const int n = world->size();
  at::Tensor w = at::zeros({4097}).set_requires_grad(true);
  GradientReducer reducer({w}, world, compression::makeCompressor({}), {});
  float local = 0.0f;
  for (int m = 0; m < 3; ++m) {
    reducer.beginBackward(m == 2, 0);
    const float k = static_cast<float>((world->rank() + 1) * (m + 1));
    (w * k).sum().backward();
    local += k;
  }
  reducer.finishStep();
  // sum over ranks r of (r+1)*(1+2+3), averaged
  const float want = 6.0f * static_cast<float>(n * (n + 1) / 2) / static_cast<float>(n);
  EXPECT_TRUE(at::allclose(w.grad(), at::full({4097}, want))) << w.grad()[0].item<float>() << " vs " << want;
  (void)local;
}

}  // namespace
}  // namespace autoglm::parallel::data_parallel
