// Onebit's skipped chunks: a chunk whose gradient is zero on every rank decodes
// to exactly zero and leaves both residuals as they were.

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "parallel/data_parallel/compression/compressor.h"
#include "parallel/data_parallel/compression/onebit.h"
#include "tests/parallel/data_parallel/compression/compression_test_util.h"
#include "tests/loopback_communicator.h"

namespace autoglm::parallel::data_parallel::compression {
namespace {

using test_util::kF32;
using test_util::randn;
using test_util::stateEntry;
const at::TensorOptions kU8 = at::TensorOptions().dtype(at::kByte);

TEST(OnebitSkip, NonzeroChunksMarksEachChunkOfEachPart) {
  // 1000 over 2 ranks in chunks of 128: parts of 512, 4 chunks each; part 1
  // holds elements 512..999, its last chunk 896..999.
  const OnebitLayout l = onebitLayout(1000, 2, 128);
  at::Tensor g = at::zeros({1000}, kF32);
  g[5] = 1.f;     // part 0 chunk 0
  g[383] = -2.f;  // part 0 chunk 2 (its last element)
  g[640] = 3.f;   // part 1 chunk 1 (its first element)
  g[999] = 4.f;   // part 1 chunk 3 (the bucket's last element)
  const at::Tensor m = onebit::nonzeroChunks(g, l);
  ASSERT_EQ(m.numel(), 8);
  const uint8_t want[8] = {1, 0, 1, 0, 0, 1, 0, 1};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(m[i].item<uint8_t>(), want[i]) << i;

  // Parts smaller than a chunk: one chunk per part, the part's real elements.
  const OnebitLayout small = onebitLayout(100, 2, 128);  // parts of 56
  at::Tensor h = at::zeros({100}, kF32);
  h[60] = 1.f;
  const at::Tensor ms = onebit::nonzeroChunks(h, small);
  ASSERT_EQ(ms.numel(), 2);
  EXPECT_EQ(ms[0].item<uint8_t>(), 0);
  EXPECT_EQ(ms[1].item<uint8_t>(), 1);
  EXPECT_THROW(onebit::nonzeroChunks(at::zeros({99}, kF32), small), Error);
}

TEST(OnebitSkip, InactiveChunksDecodeToZeroAndTheOthersAreUnchanged) {
  const OnebitLayout l = onebitLayout(200, 1, 64);  // part 200 -> 256, 4 chunks
  at::Tensor x = at::zeros({l.part}, kF32);
  x.narrow(0, 0, 200).copy_(randn(200, 7));
  at::Tensor plain = at::empty({l.partBytes()}, kU8);
  at::Tensor masked = at::empty({l.partBytes()}, kU8);
  onebit::encodePart(x, l, 0, plain);
  at::Tensor active = at::ones({l.chunks}, kU8);
  active[1] = 0;
  active[3] = 0;
  onebit::encodePart(x, l, 0, masked, active);
  const at::Tensor dp = onebit::decodePart(plain, l, 0);
  const at::Tensor dm = onebit::decodePart(masked, l, 0);
  for (int64_t k = 0; k < l.chunks; ++k) {
    const at::Tensor a = dm.narrow(0, k * 64, 64);
    if (k == 1 || k == 3) {
      EXPECT_EQ(a.abs().max().item<float>(), 0.f) << k;
    } else {
      EXPECT_TRUE(at::equal(a, dp.narrow(0, k * 64, 64))) << k;
      EXPECT_GT(a.abs().max().item<float>(), 0.f) << k;
    }
  }
  EXPECT_THROW(onebit::encodePart(x, l, 0, masked, at::ones({3}, kU8)), Error);
}

// One rank: a row that was touched once and then never again. Skipped, it
// receives nothing more and its residual waits; sent, its residual comes back
// as +-scale on every later step.
TEST(OnebitSkip, AnUntouchedRowReceivesNothingAndKeepsItsResidual) {
  test::LoopbackComm comm;
  const int64_t rows = 8, dim = 64, n = rows * dim;
  for (bool skip : {true, false}) {
    CompressionConfig cfg;
    cfg.type = CompressionType::kOnebit;
    cfg.chunk_elems = dim;
    cfg.skip_zero_chunks = skip;
    auto c = makeCompressor(cfg);
    at::Tensor sent = at::zeros({n}, kF32);
    at::Tensor truth = at::zeros({n}, kF32);
    at::Tensor residual_after_touch;
    for (int step = 0; step < 6; ++step) {
      at::Tensor g = randn(n, 50 + step);
      if (step > 0) g.narrow(0, 2 * dim, dim).zero_();  // row 2: touched at step 0 only
      truth += g;
      at::Tensor b = g.clone();
      c->reduce(0, b, step, comm);
      sent += b;
      const at::Tensor row2 = b.narrow(0, 2 * dim, dim);
      const at::Tensor ew = stateEntry(*c, "residual.0").narrow(0, 2 * dim, dim);
      if (step == 0) {
        EXPECT_GT(row2.abs().max().item<float>(), 0.f);
        residual_after_touch = ew.clone();
      } else if (skip) {
        EXPECT_EQ(row2.abs().max().item<float>(), 0.f) << "step " << step;
        EXPECT_TRUE(at::equal(ew, residual_after_touch)) << "step " << step;
      } else {
        EXPECT_GT(row2.abs().max().item<float>(), 0.f) << "step " << step;
      }
    }
    // Error feedback keeps the sum either way.
    const at::Tensor es = stateEntry(*c, "server_residual.0");
    EXPECT_TRUE(at::allclose(sent + stateEntry(*c, "residual.0") + es.narrow(0, 0, n), truth, 1e-5, 1e-4))
        << "skip " << skip;
  }
}

}  // namespace
}  // namespace autoglm::parallel::data_parallel::compression
