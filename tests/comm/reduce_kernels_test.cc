#include "comm/reduce_kernels.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include "core/error.h"

namespace autoglm::comm {
namespace {

class ReduceKernelTest : public ::testing::TestWithParam<c10::ScalarType> {};

TEST_P(ReduceKernelTest, SumAndMaxMatchATen) {
  const auto dtype = GetParam();
  at::Tensor a = (at::arange(37, at::TensorOptions().dtype(at::kLong)).remainder(11)).to(dtype);
  at::Tensor b = (at::arange(37, at::TensorOptions().dtype(at::kLong)).remainder(5) * 3).to(dtype);
  at::Tensor sum = a.clone();
  reduceInto(sum.data_ptr(), b.data_ptr(), 37, dtype, ReduceOp::kSum);
  EXPECT_TRUE(at::equal(sum, (a.to(at::kDouble) + b.to(at::kDouble)).to(dtype)));
  at::Tensor mx = a.clone();
  reduceInto(mx.data_ptr(), b.data_ptr(), 37, dtype, ReduceOp::kMax);
  EXPECT_TRUE(at::equal(mx, at::maximum(a, b)));
}

TEST_P(ReduceKernelTest, ReduceTwoMatchesReduceIntoBitwise) {
  const auto dtype = GetParam();
  // Values that round in float16/bfloat16, so both paths must round alike.
  at::Tensor a = (at::arange(1031, at::TensorOptions().dtype(at::kDouble)).remainder(97) * 0.37 + 1).to(dtype);
  at::Tensor b = (at::arange(1031, at::TensorOptions().dtype(at::kDouble)).remainder(13) * 1.13).to(dtype);
  for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kMax}) {
    at::Tensor want = a.clone();
    reduceInto(want.data_ptr(), b.data_ptr(), 1031, dtype, op);
    at::Tensor got = at::empty_like(a);
    reduceTwo(got.data_ptr(), a.data_ptr(), b.data_ptr(), 1031, dtype, op);
    EXPECT_TRUE(at::equal(got, want)) << toString(op);
    // In place over either input.
    at::Tensor in_a = a.clone(), in_b = b.clone();
    reduceTwo(in_a.data_ptr(), in_a.data_ptr(), b.data_ptr(), 1031, dtype, op);
    reduceTwo(in_b.data_ptr(), a.data_ptr(), in_b.data_ptr(), 1031, dtype, op);
    EXPECT_TRUE(at::equal(in_a, want)) << toString(op);
    EXPECT_TRUE(at::equal(in_b, want)) << toString(op);
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, ReduceKernelTest,
                         ::testing::Values(at::kFloat, at::kHalf, at::kBFloat16, at::kInt, at::kLong, at::kByte));

TEST(ReduceKernel, UnsupportedDtypeThrows) {
  double x = 1, y = 2;
  EXPECT_THROW(reduceInto(&x, &y, 1, at::kDouble, ReduceOp::kSum), CommError);
  double z = 0;
  EXPECT_THROW(reduceTwo(&z, &x, &y, 1, at::kDouble, ReduceOp::kSum), CommError);
}

}  // namespace
}  // namespace autoglm::comm
