// Onebit's shaped chunks (shape: adam): element i of a chunk decodes to
// sign * scale * d_i, d from a per-element prior, scale the least-squares fit.

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "core/error.h"
#include "parallel/data_parallel/compression/compressor.h"
#include "parallel/data_parallel/compression/onebit.h"
#include "tests/loopback_communicator.h"
#include "tests/parallel/data_parallel/compression/compression_test_util.h"

namespace autoglm::parallel::data_parallel::compression {
namespace {

using test_util::kF32;
using test_util::randn;
const at::TensorOptions kU8 = at::TensorOptions().dtype(at::kByte);

// Squared error of scale * sign(x) * d against x over [0, valid).
double shapedError(const at::Tensor& x, const at::Tensor& d, double scale, int64_t valid) {
  const at::Tensor xs = x.narrow(0, 0, valid).to(at::kDouble);
  const at::Tensor sign = at::where(xs >= 0, at::ones_like(xs), -at::ones_like(xs));
  return (xs - scale * sign * d.narrow(0, 0, valid).to(at::kDouble)).pow(2).sum().item<double>();
}

TEST(OnebitShape, ChunkShapeAddsTheFloorAndIsOneWhereThePriorIsZero) {
  // 20 elements over 2 ranks in chunks of 8: parts of 16 (two chunks each);
  // part 1 holds elements 16..19, the rest of it is padding.
  const OnebitLayout l = onebitLayout(20, 2, 8);
  ASSERT_EQ(l.part, 16);
  at::Tensor prior = at::zeros({20}, kF32);
  for (int i = 0; i < 8; ++i) prior[i] = static_cast<float>(i);  // chunk 0: mean 3.5
  // chunk 1 (8..15) stays zero; part 1 chunk 0 holds 16..19 with mean 2.
  prior[16] = 8.f;
  const at::Tensor d = onebit::chunkShape(prior, l);
  ASSERT_EQ(d.numel(), 32);
  for (int i = 0; i < 8; ++i) EXPECT_FLOAT_EQ(d[i].item<float>(), i + onebit::kShapeFloor * 3.5f) << i;
  for (int i = 8; i < 16; ++i) EXPECT_EQ(d[i].item<float>(), 1.f) << i;
  EXPECT_FLOAT_EQ(d[16].item<float>(), 8.f + onebit::kShapeFloor * 2.f);
  for (int i = 17; i < 24; ++i) EXPECT_FLOAT_EQ(d[i].item<float>(), onebit::kShapeFloor * 2.f) << i;
  for (int i = 24; i < 32; ++i) EXPECT_EQ(d[i].item<float>(), 1.f) << i;  // only padding
  EXPECT_THROW(onebit::chunkShape(at::zeros({19}, kF32), l), Error);
}

TEST(OnebitShape, DecodesToSignTimesScaleTimesShapeWithTheLeastSquaresScale) {
  const OnebitLayout l = onebitLayout(300, 1, 64);  // one part of 320, 5 chunks, 300 real
  const at::Tensor x = at::zeros({l.part}, kF32);
  x.narrow(0, 0, 300).copy_(randn(300, 3));
  const at::Tensor d = onebit::chunkShape(randn(300, 4).abs(), l);
  at::Tensor row = at::empty({l.partBytes()}, kU8);
  onebit::encodePart(x, l, 0, row, {}, d);
  const at::Tensor y = onebit::decodePart(row, l, 0, d);
  const at::Tensor scales = onebit::chunkScales(x, l.chunk, 300, d);
  for (int64_t i = 0; i < l.part; ++i) {
    const float s = scales[i / l.chunk].item<float>();
    const float want = i >= 300 ? 0.f : (x[i].item<float>() >= 0 ? 1.f : -1.f) * s * d[i].item<float>();
    ASSERT_FLOAT_EQ(y[i].item<float>(), want) << i;
  }
  for (int64_t k = 0; k < l.chunks; ++k) {
    const int64_t lo = k * l.chunk, len = std::min<int64_t>(l.chunk, 300 - lo);
    const at::Tensor xc = x.narrow(0, lo, len), dc = d.narrow(0, lo, len);
    const double s = scales[k].item<float>();
    const double e = shapedError(xc, dc, s, len);
    EXPECT_LT(e, shapedError(xc, dc, s * 1.01, len)) << "chunk " << k;
    EXPECT_LT(e, shapedError(xc, dc, s * 0.99, len)) << "chunk " << k;
  }
  // An all-ones shape is the uniform chunk: scale mean |x|.
  const at::Tensor ones = at::ones({l.part}, kF32);
  EXPECT_TRUE(at::allclose(onebit::chunkScales(x, l.chunk, 300, ones), onebit::chunkScales(x, l.chunk, 300)));
}

TEST(OnebitShape, AMatchingPriorDecodesCloserThanUniformChunks) {
  // Magnitudes spread over two orders within each chunk, as Adam's v sees them.
  const int64_t n = 4096;
  const at::Tensor magnitude = at::exp(2.0 * randn(n, 5));
  const at::Tensor g = randn(n, 6) * magnitude;
  CompressionConfig cfg;
  cfg.type = CompressionType::kOnebit;
  auto uniform = makeCompressor(cfg);
  cfg.shape = ShapeKind::kAdam;
  auto shaped = makeCompressor(cfg);
  ASSERT_FALSE(uniform->usesShape());
  ASSERT_TRUE(shaped->usesShape());
  test::LoopbackComm comm;
  at::Tensor a = g.clone(), b = g.clone();
  uniform->reduce(0, a, 0, comm);
  shaped->setShape(0, magnitude);
  shaped->reduce(0, b, 0, comm);
  const double err_uniform = (a - g).norm().item<double>(), err_shaped = (b - g).norm().item<double>();
  EXPECT_LT(err_shaped, 0.7 * err_uniform) << "uniform " << err_uniform << " shaped " << err_shaped;
  // The prior is used once: the next reduce without setShape() is uniform again.
  at::Tensor c = g.clone(), u = g.clone();
  shaped->reduce(0, c, 1, comm);
  uniform->reduce(0, u, 1, comm);
  EXPECT_GT((c - g).norm().item<double>(), err_shaped);
}

TEST(OnebitShape, ErrorFeedbackKeepsTheSumWithAShape) {
  // Whatever the shape, what was delivered plus what is still held equals
  // what went in.
  CompressionConfig cfg;
  cfg.type = CompressionType::kOnebit;
  cfg.shape = ShapeKind::kAdam;
  cfg.chunk_elems = 32;
  auto comp = makeCompressor(cfg);
  test::LoopbackComm comm;
  at::Tensor in = at::zeros({500}, at::TensorOptions().dtype(at::kDouble));
  at::Tensor out = at::zeros_like(in);
  for (int step = 0; step < 6; ++step) {
    at::Tensor g = randn(500, 10 + step);
    in += g.to(at::kDouble);
    at::Tensor prior = randn(500, 20 + step).abs();
    prior.narrow(0, 64, 32).zero_();  // a chunk without a prior: uniform
    comp->setShape(0, prior);
    comp->reduce(0, g, step, comm);
    out += g.to(at::kDouble);
  }
  at::Tensor held = at::zeros_like(in);
  for (const auto& [key, t] : comp->state()) {
    if (key == "residual.0") held += t.to(at::kDouble);
    if (key == "server_residual.0") held.narrow(0, 0, 500) += t.narrow(0, 0, 500).to(at::kDouble);
  }
  EXPECT_TRUE(at::allclose(out + held, in, 1e-4, 1e-4));
}

TEST(OnebitShape, OnlyOnebitTakesAShape) {
  CompressionConfig cfg;
  cfg.type = CompressionType::kTopk;
  cfg.shape = ShapeKind::kAdam;
  try {
    makeCompressor(cfg);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("parallel.compression.shape=adam"), std::string::npos) << e.what();
  }
}

TEST(OnebitShape, APriorOfTheWrongSizeIsAnError) {
  CompressionConfig cfg;
  cfg.type = CompressionType::kOnebit;
  cfg.shape = ShapeKind::kAdam;
  auto comp = makeCompressor(cfg);
  test::LoopbackComm comm;
  at::Tensor g = randn(100, 1);
  comp->setShape(0, at::ones({99}, kF32));
  EXPECT_THROW(comp->reduce(0, g, 0, comm), Error);
}

}  // namespace
}  // namespace autoglm::parallel::data_parallel::compression
