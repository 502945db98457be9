// Gradient compressors in one process: the 1-bit codec, top-k selection, error
// feedback invariants, stats and state round trips (a one-rank loopback
// communicator stands in for the group).

#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "core/yaml_config.h"
#include "parallel/data_parallel/compression/compressor.h"
#include "parallel/data_parallel/compression/onebit.h"
#include "tests/parallel/data_parallel/compression/compression_test_util.h"
#include "parallel/data_parallel/compression/topk.h"
#include "tests/loopback_communicator.h"

namespace autoglm::parallel::data_parallel::compression {
namespace {

using test_util::kF32;
using test_util::randn;
using test_util::stateEntry;

using test::LoopbackComm;

CompressionType typeOf(const std::string& name) { return *core::parseEnum<CompressionType>(name); }

// ---- factory --------------------------------------------------------------

CompressionConfig readConfig(const std::string& yaml) {
  CompressionConfig cfg;
  core::YamlReader reader(YAML::Load(yaml), "test.yaml", "parallel.compression");
  cfg.visit(reader);
  reader.finish();
  return cfg;
}

std::string errorOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(CompressorFactory, MakesEveryTypeAndRejectsBadSettings) {
  for (const char* type : {"none", "fp16", "bf16", "onebit", "topk"}) {
    CompressionConfig cfg;
    cfg.type = typeOf(type);
    EXPECT_EQ(makeCompressor(cfg)->name(), type);
  }
  const std::string unknown = errorOf([] { readConfig("{type: twobit}"); });
  EXPECT_NE(unknown.find("parallel.compression.type=twobit: must be one of: none, fp16, bf16, onebit, topk"),
            std::string::npos)
      << unknown;
  // The same bounds hold for a config read from YAML and one built in code.
  CompressionConfig cfg;
  cfg.type = CompressionType::kOnebit;
  cfg.chunk_elems = 12;
  const std::string in_code = errorOf([&] { makeCompressor(cfg); });
  const std::string in_yaml = errorOf([] { readConfig("{type: onebit, chunk_elems: 12}"); });
  EXPECT_NE(in_code.find("parallel.compression.chunk_elems=12: must be a multiple of 8"), std::string::npos) << in_code;
  EXPECT_NE(in_yaml.find("parallel.compression.chunk_elems=12: must be a multiple of 8"), std::string::npos) << in_yaml;
  for (double momentum : {1.0, -0.1}) {
    cfg = CompressionConfig{};
    cfg.type = CompressionType::kTopk;
    cfg.momentum = momentum;
    EXPECT_NE(errorOf([&] { makeCompressor(cfg); }).find("parallel.compression.momentum"), std::string::npos);
    EXPECT_NE(errorOf([&] { TopkCompressor direct(cfg); }).find("parallel.compression.momentum"), std::string::npos);
  }
  cfg.momentum = 0.99;
  EXPECT_EQ(errorOf([&] { makeCompressor(cfg); }), "(no error)");
  EXPECT_NE(errorOf([] { readConfig("{momentum: 1.0}"); }).find("must be in [0, 1)"), std::string::npos);
}

TEST(CompressorFactory, RejectsBadBuckets) {
  LoopbackComm comm;
  auto c = makeCompressor({});
  at::Tensor d = at::zeros({4}, at::TensorOptions().dtype(at::kDouble));
  EXPECT_THROW(c->reduce(0, d, 0, comm), Error);
  at::Tensor two_d = at::zeros({2, 2}, kF32);
  EXPECT_THROW(c->reduce(0, two_d, 0, comm), Error);
}

// ---- none / fp16 / bf16 on one rank ---------------------------------------

TEST(HalfCompressors, RoundThroughTheirDtypeAndCountBytes) {
  LoopbackComm comm;
  const at::Tensor g = randn(1001, 1) * 100;
  for (auto [type, dtype, bytes] : {std::tuple{"none", at::kFloat, 4}, std::tuple{"fp16", at::kHalf, 2},
                                    std::tuple{"bf16", at::kBFloat16, 2}}) {
    CompressionConfig cfg;
    cfg.type = typeOf(type);
    auto c = makeCompressor(cfg);
    at::Tensor b = g.clone();
    c->reduce(0, b, 0, comm);
    EXPECT_TRUE(at::equal(b, g.to(dtype).to(at::kFloat))) << type;
    EXPECT_EQ(c->stats().calls, 1);
    EXPECT_EQ(c->stats().elements, 1001);
    EXPECT_EQ(c->stats().bytes_sent, 1001 * bytes) << type;
  }
}

// ---- onebit codec ----------------------------------------------------------

TEST(OnebitCodec, PacksSignsLeastSignificantBitFirst) {
  const at::Tensor x = at::tensor({1.f, -2.f, 0.f, -0.5f, 3.f, -1.f, -1.f, 2.f,   // bits 0, 2, 4, 7
                                   -1.f, -1.f, -1.f, -1.f, -1.f, -1.f, -1.f, -1.f,  // none
                                   5.f, 5.f, 5.f, 5.f, 5.f, 5.f, 5.f, -0.f},         // all (-0 >= 0)
                                  kF32);
  const at::Tensor bits = onebit::packSigns(x);
  ASSERT_EQ(bits.numel(), 3);
  EXPECT_EQ(bits[0].item<uint8_t>(), 1 + 4 + 16 + 128);
  EXPECT_EQ(bits[1].item<uint8_t>(), 0);
  EXPECT_EQ(bits[2].item<uint8_t>(), 255);
}

TEST(OnebitCodec, ScalesAreChunkMeansOfRealElements) {
  // 20 real elements, padded to 24, chunks of 8: the last chunk has 4 real ones.
  std::vector<float> v(24, 0.f);
  for (int i = 0; i < 20; ++i) v[i] = (i % 3 == 0 ? -1.f : 1.f) * static_cast<float>(i + 1);
  const at::Tensor x = at::tensor(v, kF32);
  const at::Tensor s = onebit::chunkScales(x, 8, 20);
  ASSERT_EQ(s.numel(), 3);
  EXPECT_FLOAT_EQ(s[0].item<float>(), (1 + 2 + 3 + 4 + 5 + 6 + 7 + 8) / 8.f);
  EXPECT_FLOAT_EQ(s[1].item<float>(), (9 + 10 + 11 + 12 + 13 + 14 + 15 + 16) / 8.f);
  EXPECT_FLOAT_EQ(s[2].item<float>(), (17 + 18 + 19 + 20) / 4.f);
  EXPECT_FLOAT_EQ(onebit::chunkScales(x, 8, 16)[2].item<float>(), 0.f);  // no real element

  // The mean of |x| minimises the L2 error of scale * sign(x) over the chunk.
  const at::Tensor c0 = x.narrow(0, 0, 8);
  const auto err = [&](float scale) { return (c0 - at::sign(c0) * scale).pow(2).sum().item<float>(); };
  EXPECT_LT(err(s[0].item<float>()), err(s[0].item<float>() * 1.01f));
  EXPECT_LT(err(s[0].item<float>()), err(s[0].item<float>() * 0.99f));

  // Encode and decode one part: sign * scale, zero on the padding.
  const OnebitLayout l = onebitLayout(20, 1, 8);
  ASSERT_EQ(l.part, 24);
  ASSERT_EQ(l.chunks, 3);
  ASSERT_EQ(l.partBytes(), 3 + 12);
  at::Tensor row = at::empty({l.partBytes()}, at::TensorOptions().dtype(at::kByte));
  onebit::encodePart(x, l, 0, row);
  const at::Tensor d = onebit::decodePart(row, l, 0);
  for (int i = 0; i < 24; ++i) {
    const float want = i < 20 ? (v[i] >= 0 ? 1.f : -1.f) * s[i / 8].item<float>() : 0.f;
    EXPECT_EQ(d[i].item<float>(), want) << i;
  }
  EXPECT_TRUE(at::equal(onebit::unpackSigns(onebit::packSigns(x), s, 8, 20), d));
}

TEST(OnebitCodec, LayoutPadsPartsToMultiplesOfEightOrOfTheChunk) {
  OnebitLayout l = onebitLayout(1, 4, 2048);
  EXPECT_EQ(l.part, 8);
  EXPECT_EQ(l.chunks, 1);
  EXPECT_EQ(l.valid(0), 1);
  EXPECT_EQ(l.valid(1), 0);
  EXPECT_EQ(l.valid(3), 0);
  l = onebitLayout(1001, 3, 16);
  EXPECT_EQ(l.part, 336);  // ceil(1001 / 3) = 334 -> 336
  EXPECT_EQ(l.chunks, 21);
  EXPECT_EQ(l.valid(0), 336);
  EXPECT_EQ(l.valid(2), 1001 - 672);
  EXPECT_THROW(onebitLayout(10, 2, 12), Error);
  // At least one chunk per rank: whole chunks, so that chunk boundaries stay at
  // bucket offsets that are multiples of the chunk.
  EXPECT_EQ(onebitLayout(1000, 2, 128).part, 512);  // 500 -> 512, not 504
  EXPECT_EQ(onebitLayout(100, 2, 128).part, 56);    // 50 -> 56: less than a chunk
}

TEST(OnebitCodec, WorkerErrorFeedbackKeepsTheSum) {
  const OnebitLayout l = onebitLayout(1001, 1, 64);
  at::Tensor e = at::zeros({l.part}, kF32);
  at::Tensor sent = at::zeros({l.part}, kF32);
  at::Tensor truth = at::zeros({l.part}, kF32);
  at::Tensor row = at::empty({l.partBytes()}, at::TensorOptions().dtype(at::kByte));
  for (int step = 0; step < 20; ++step) {
    at::Tensor g = at::zeros({l.part}, kF32);
    g.narrow(0, 0, 1001).copy_(randn(1001, 100 + step));
    truth += g;
    const at::Tensor c = g + e;
    onebit::encodePart(c, l, 0, row);
    const at::Tensor d = onebit::decodePart(row, l, 0);
    e = c - d;
    sent += d;
  }
  EXPECT_TRUE(at::allclose(sent + e, truth, 1e-5, 1e-4));
  // The residual stays bounded (it does not accumulate the gradients).
  EXPECT_LT(e.abs().max().item<float>(), 10.f);
}

// ---- onebit compressor on one rank -----------------------------------------

TEST(OnebitCompressor, WarmupIsPlainThenTwoStageFeedbackKeepsTheSum) {
  LoopbackComm comm;
  CompressionConfig cfg;
  cfg.type = typeOf("onebit");
  cfg.chunk_elems = 64;
  cfg.warmup_steps = 2;
  auto c = makeCompressor(cfg);
  const int64_t n = 1001;
  at::Tensor sent = at::zeros({n}, kF32);
  at::Tensor truth = at::zeros({n}, kF32);
  for (int step = 0; step < 12; ++step) {
    const at::Tensor g = randn(n, 200 + step);
    at::Tensor b = g.clone();
    c->reduce(3, b, step, comm);
    if (step < 2) {
      EXPECT_TRUE(at::equal(b, g));
      EXPECT_TRUE(c->state().empty());
      continue;
    }
    EXPECT_FALSE(at::equal(b, g));
    sent += b;
    truth += g;
  }
  const at::Tensor ew = stateEntry(*c, "residual.3");
  const at::Tensor es = stateEntry(*c, "server_residual.3");
  ASSERT_TRUE(ew.defined() && es.defined());
  EXPECT_EQ(ew.numel(), n);
  EXPECT_EQ(es.numel(), onebitLayout(n, 1, 64).part);
  EXPECT_TRUE(at::allclose(sent + ew + es.narrow(0, 0, n), truth, 1e-5, 1e-4));
  const OnebitLayout l = onebitLayout(n, 1, 64);
  EXPECT_EQ(c->stats().calls, 12);
  EXPECT_EQ(c->stats().elements, 12 * n);
  EXPECT_EQ(c->stats().compressed_elements, 10 * n);
  EXPECT_EQ(c->stats().bytes_sent, 2 * 4 * n + 10 * 2 * l.partBytes());
}

// ---- topk selection --------------------------------------------------------

TEST(TopkSelection, SampledThresholdIsCloseToTheRatioAndExact) {
  const int64_t n = 1 << 20;
  for (uint64_t seed : {1, 2, 3}) {
    const at::Tensor v = randn(n, seed);
    for (double ratio : {0.001, 0.01, 0.05}) {
      const int64_t k = topk::targetCount(n, ratio);
      const at::Tensor idx = topk::selectLargest(v, k, 16384, topk::sampleSeed(0, 0, static_cast<int64_t>(seed)));
      const int64_t count = idx.numel();
      EXPECT_GE(count, k / 2) << ratio;
      EXPECT_LE(count, k) << ratio;
      // Over-selection is clamped to exactly k (1.25x oversampled threshold).
      EXPECT_EQ(count, k) << "ratio " << ratio << " seed " << seed;
      // No duplicates, and what is selected is the top of |v|.
      EXPECT_EQ(std::get<0>(at::_unique(idx)).numel(), count);
      at::Tensor mask = at::zeros({n}, at::TensorOptions().dtype(at::kBool));
      mask.index_fill_(0, idx, true);
      const float min_in = v.abs().masked_select(mask).min().item<float>();
      const float max_out = v.abs().masked_select(mask.logical_not()).max().item<float>();
      EXPECT_GE(min_in, max_out);
    }
  }
}

TEST(TopkSelection, SmallDenseSparseAndTiedInputs) {
  EXPECT_EQ(topk::targetCount(1, 0.01), 1);
  EXPECT_EQ(topk::targetCount(1000, 0.01), 10);
  EXPECT_EQ(topk::targetCount(1001, 0.01), 11);
  EXPECT_EQ(topk::targetCount(5, 1.0), 5);
  // Small: exact top-k.
  const at::Tensor small = at::tensor({0.1f, -5.f, 2.f, -0.3f, 4.f}, kF32);
  at::Tensor idx = std::get<0>(at::sort(topk::selectLargest(small, 2, 64, 1)));
  EXPECT_TRUE(at::equal(idx, at::tensor({1, 4}, at::TensorOptions().dtype(at::kLong))));
  EXPECT_EQ(topk::selectLargest(small, 5, 64, 1).numel(), 5);
  // Mostly zeros: only the nonzero elements are taken.
  const int64_t n = 1 << 20;
  at::Tensor sparse = at::zeros({n}, kF32);
  sparse.narrow(0, 1000, 100).fill_(-3.f);
  idx = topk::selectLargest(sparse, topk::targetCount(n, 0.01), 16384, 7);
  EXPECT_EQ(idx.numel(), 100);
  EXPECT_EQ(idx.min().item<int64_t>(), 1000);
  // All tied: exactly k.
  const at::Tensor tied = at::ones({n}, kF32);
  EXPECT_EQ(topk::selectLargest(tied, 1000, 16384, 7).numel(), 1000);
}

TEST(TopkSelection, TimingAgainstAtTopk) {
  // A measurement for the log, not an assertion.
  const int64_t n = 4 << 20;
  const at::Tensor v = randn(n, 11);
  const int64_t k = topk::targetCount(n, 0.01);
  const auto time = [&](auto&& fn) {
    double best = 1e30;
    for (int rep = 0; rep < 5; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      fn();
      best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
  };
  int64_t count = 0;
  const double sampled = time([&] { count = topk::selectLargest(v, k, 16384, 5).numel(); });
  const double exact = time([&] { (void)at::topk(v.abs(), k, 0, true, false); });
  std::printf("[timing] topk selection of %lld of %lld elements (%d threads): sampled threshold %.2f ms "
              "(%lld selected), at::topk %.2f ms\n",
              static_cast<long long>(k), static_cast<long long>(n), at::get_num_threads(), sampled,
              static_cast<long long>(count), exact);
  EXPECT_EQ(count, k);
}

TEST(CompressorTiming, ReduceOfFourMillionElementsOnOneRank) {
  // A measurement for the log, not an assertion: the local work of each
  // compressor (the loopback communicator copies instead of sending).
  LoopbackComm comm;
  const int64_t n = 4 << 20;
  const at::Tensor g = randn(n, 12);
  for (const char* type : {"none", "fp16", "onebit", "topk"}) {
    CompressionConfig cfg;
    cfg.type = typeOf(type);
    auto c = makeCompressor(cfg);
    double best = 1e30;
    for (int step = 0; step < 5; ++step) {
      at::Tensor b = g.clone();
      const auto t0 = std::chrono::steady_clock::now();
      c->reduce(0, b, step, comm);
      best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::printf("[timing] %s reduce of %lld elements on one rank: %.2f ms, %lld bytes sent per call\n", type,
                static_cast<long long>(n), best, static_cast<long long>(c->stats().bytes_sent / 5));
  }
}

// ---- topk compressor on one rank -------------------------------------------

TEST(TopkCompressor, ErrorFeedbackWithoutMomentumIsExactPerStep) {
  LoopbackComm comm;
  CompressionConfig cfg;
  cfg.type = typeOf("topk");
  cfg.ratio = 0.01;
  cfg.sample_elems = 1024;
  auto c = makeCompressor(cfg);
  const int64_t n = 50001;
  at::Tensor v_prev = at::zeros({n}, kF32);
  at::Tensor sent = at::zeros({n}, kF32);
  at::Tensor truth = at::zeros({n}, kF32);
  int64_t selected = 0;
  for (int step = 0; step < 10; ++step) {
    const at::Tensor g = randn(n, 300 + step);
    at::Tensor b = g.clone();
    c->reduce(0, b, step, comm);
    const at::Tensor v = stateEntry(*c, "residual.0");
    // What was sent plus what stays equals what there was plus the gradient.
    EXPECT_TRUE(at::equal(b + v, v_prev + g)) << step;
    // Sent and kept are disjoint.
    EXPECT_EQ((b.ne(0) & v.ne(0)).sum().item<int64_t>(), 0);
    const int64_t k = topk::targetCount(n, 0.01);
    const int64_t nz = b.ne(0).sum().item<int64_t>();
    EXPECT_GE(nz, k / 2);
    EXPECT_LE(nz, k);
    selected += nz;
    v_prev = v;
    sent += b;
    truth += g;
  }
  EXPECT_TRUE(at::allclose(sent + v_prev, truth, 1e-5, 1e-4));
  EXPECT_TRUE(stateEntry(*c, "momentum.0").defined() == false);
  EXPECT_EQ(c->stats().selected_elements, selected);
  EXPECT_EQ(c->stats().bytes_sent, 8 * selected);
  EXPECT_EQ(c->stats().compressed_elements, 10 * n);
}

TEST(TopkCompressor, MomentumCorrectionAndFactorMasking) {
  LoopbackComm comm;
  CompressionConfig cfg;
  cfg.type = typeOf("topk");
  cfg.ratio = 0.02;
  cfg.momentum = 0.9;
  cfg.sample_elems = 1024;
  auto c = makeCompressor(cfg);
  const int64_t n = 30000;
  at::Tensor u_prev = at::zeros({n}, kF32);
  at::Tensor v_prev = at::zeros({n}, kF32);
  at::Tensor sent = at::zeros({n}, kF32);
  at::Tensor u_sum = at::zeros({n}, kF32);
  for (int step = 0; step < 10; ++step) {
    const at::Tensor g = randn(n, 400 + step);
    at::Tensor b = g.clone();
    c->reduce(1, b, step, comm);
    const at::Tensor u_new = u_prev * 0.9 + g;  // u before masking
    const at::Tensor v = stateEntry(*c, "residual.1");
    const at::Tensor u = stateEntry(*c, "momentum.1");
    const at::Tensor was_sent = b.ne(0);
    EXPECT_TRUE(at::equal(b + v, v_prev + u_new)) << step;
    EXPECT_TRUE(at::equal(u, at::where(was_sent, at::zeros_like(u_new), u_new))) << step;
    u_sum += u_new;
    sent += b;
    u_prev = u;
    v_prev = v;
  }
  // Over all steps: sent + kept == the sum of the momentum-corrected gradients.
  EXPECT_TRUE(at::allclose(sent + v_prev, u_sum, 1e-5, 1e-4));
}

TEST(TopkCompressor, RatioOneIsThePlainAverage) {
  LoopbackComm comm;
  CompressionConfig cfg;
  cfg.type = typeOf("topk");
  cfg.ratio = 1.0;
  auto c = makeCompressor(cfg);
  for (int step = 0; step < 3; ++step) {
    const at::Tensor g = randn(777, 500 + step);
    at::Tensor b = g.clone();
    c->reduce(0, b, step, comm);
    EXPECT_TRUE(at::equal(b, g));
  }
  EXPECT_EQ(c->stats().selected_elements, 3 * 777);
}

// ---- state -----------------------------------------------------------------

void expectStatesEqual(const CompressorState& a, const CompressorState& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_TRUE(at::equal(a[i].second, b[i].second)) << a[i].first;
  }
}

TEST(CompressorState, RoundTripContinuesExactly) {
  LoopbackComm comm;
  for (const char* type : {"onebit", "topk"}) {
    CompressionConfig cfg;
    cfg.type = typeOf(type);
    cfg.chunk_elems = 32;
    cfg.momentum = 0.5;
    cfg.ratio = 0.05;
    cfg.sample_elems = 256;
    auto a = makeCompressor(cfg);
    const std::vector<int64_t> sizes{1, 1001};
    for (int step = 0; step < 3; ++step) {
      for (int bucket = 0; bucket < 2; ++bucket) {
        at::Tensor g = randn(sizes[bucket], 600 + 10 * step + bucket);
        a->reduce(bucket, g, step, comm);
      }
    }
    const CompressorState saved = a->state();
    const std::vector<std::string> want =
        std::string(type) == "onebit"
            ? std::vector<std::string>{"residual.0", "server_residual.0", "residual.1", "server_residual.1"}
            : std::vector<std::string>{"residual.0", "momentum.0", "residual.1", "momentum.1"};
    ASSERT_EQ(saved.size(), want.size()) << type;
    for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(saved[i].first, want[i]);

    auto b = makeCompressor(cfg);
    b->loadState(saved);
    expectStatesEqual(b->state(), saved);
    EXPECT_EQ(b->stats().calls, 0);
    for (int step = 3; step < 6; ++step) {
      for (int bucket = 0; bucket < 2; ++bucket) {
        const at::Tensor g = randn(sizes[bucket], 600 + 10 * step + bucket);
        at::Tensor ga = g.clone();
        at::Tensor gb = g.clone();
        a->reduce(bucket, ga, step, comm);
        b->reduce(bucket, gb, step, comm);
        EXPECT_TRUE(at::equal(ga, gb)) << type << " step " << step << " bucket " << bucket;
      }
    }
    expectStatesEqual(a->state(), b->state());

    // Mismatches name the entry.
    const auto expectError = [&](const CompressorState& bad, const std::string& key) {
      try {
        a->loadState(bad);
        FAIL() << type << ": no error for " << key;
      } catch (const CheckpointError& e) {
        EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
      }
    };
    expectError({{"residual.1", at::zeros({1000}, kF32)}}, "residual.1");
    expectError({{"velocity.1", at::zeros({1001}, kF32)}}, "velocity.1");
    expectError({{"residual.x", at::zeros({1001}, kF32)}}, "residual.x");
    expectError({{"residual.0", at::zeros({1}, at::TensorOptions().dtype(at::kDouble))}}, "residual.0");
    // A bucket that changes size is an error, not a silent reset.
    at::Tensor wrong = at::zeros({1002}, kF32);
    EXPECT_THROW(a->reduce(1, wrong, 6, comm), Error);
  }
}

}  // namespace
}  // namespace autoglm::parallel::data_parallel::compression
