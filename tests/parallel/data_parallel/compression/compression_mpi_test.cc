// Gradient compressors over real ranks: every rank's gradient comes from a seed,
// so each rank can recompute every other rank's data and check the compressed
// average against a local reference of the whole group.

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "parallel/data_parallel/compression/compressor.h"
#include "parallel/data_parallel/compression/onebit.h"
#include "parallel/data_parallel/compression/topk.h"
#include "parallel/process_grid.h"
#include "tests/mpi_test_main.h"

namespace autoglm::parallel::data_parallel::compression {
namespace {

const at::TensorOptions kF32 = at::TensorOptions().dtype(at::kFloat);
// 1, odd, and sizes that do not divide into ranks * chunk; the last one takes the
// sampled-threshold path of topk.
const std::vector<int64_t> kSizes{1, 7, 1000, 5003, 100003};

at::Tensor gradient(int rank, int bucket, int64_t step, int64_t n) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1000003ull * static_cast<uint64_t>(rank + 1) +
                                                       1009ull * static_cast<uint64_t>(bucket) +
                                                       static_cast<uint64_t>(step));
  return at::randn({n}, gen, kF32);
}

at::Tensor localAverage(int ranks, int bucket, int64_t step, int64_t n) {
  at::Tensor sum = gradient(0, bucket, step, n);
  for (int r = 1; r < ranks; ++r) sum += gradient(r, bucket, step, n);
  return sum / ranks;
}

void expectSameOnAllRanks(comm::Communicator& comm, const at::Tensor& t, const std::string& what) {
  auto w = comm.allgather(t, {});
  w->wait();
  const at::Tensor all = w->result()[0];
  for (int r = 0; r < comm.size(); ++r) EXPECT_TRUE(at::equal(all[r], t)) << what << ": rank " << r << " differs";
}

std::unique_ptr<Compressor> make(const std::string& type, const CompressionConfig& base = {}) {
  CompressionConfig cfg = base;
  cfg.type = *core::parseEnum<CompressionType>(type);
  return makeCompressor(cfg);
}

TEST(CompressionMpi, DenseCompressorsAverage) {
  auto world = test::worldComm();
  const int P = world->size();
  struct Case {
    const char* type;
    double rtol, atol;
    int bytes;
  };
  for (const Case& c : {Case{"none", 1e-5, 1e-6, 4}, Case{"fp16", 1e-2, 2e-3, 2}, Case{"bf16", 3e-2, 2e-2, 2}}) {
    auto comp = make(c.type);
    int64_t total = 0;
    for (int step = 0; step < 2; ++step) {
      for (size_t b = 0; b < kSizes.size(); ++b) {
        const int64_t n = kSizes[b];
        at::Tensor g = gradient(world->rank(), static_cast<int>(b), step, n);
        comp->reduce(static_cast<int>(b), g, step, *world);
        const at::Tensor want = localAverage(P, static_cast<int>(b), step, n);
        EXPECT_TRUE(at::allclose(g, want, c.rtol, c.atol))
            << c.type << " n=" << n << " max error " << (g - want).abs().max().item<float>();
        expectSameOnAllRanks(*world, g, c.type);
        total += n;
      }
    }
    EXPECT_EQ(comp->stats().elements, total);
    EXPECT_EQ(comp->stats().bytes_sent, total * c.bytes) << c.type;
  }
}

TEST(CompressionMpi, TopkRatioOneEqualsNoneExactly) {
  auto world = test::worldComm();
  CompressionConfig cfg;
  cfg.ratio = 1.0;
  auto none = make("none");
  auto topk = make("topk", cfg);
  for (int step = 0; step < 3; ++step) {
    for (size_t b = 0; b < kSizes.size(); ++b) {
      const at::Tensor g = gradient(world->rank(), static_cast<int>(b), step, kSizes[b]);
      at::Tensor a = g.clone();
      at::Tensor t = g.clone();
      none->reduce(static_cast<int>(b), a, step, *world);
      topk->reduce(static_cast<int>(b), t, step, *world);
      EXPECT_TRUE(at::equal(a, t)) << "n=" << kSizes[b] << " step " << step;
    }
  }
}

// Deep Gradient Compression of every rank, computed locally.
struct TopkReference {
  double ratio, momentum;
  int64_t sample;
  std::vector<at::Tensor> u, v;  // per rank
  int data_offset = 0;           // rank r's data of bucket b: gradient(r, b + data_offset, ...)

  at::Tensor step(int ranks, int bucket, int64_t step, int64_t n, int64_t* mine, int me) {
    if (v.empty()) {
      for (int r = 0; r < ranks; ++r) {
        u.push_back(at::zeros({n}, kF32));
        v.push_back(at::zeros({n}, kF32));
      }
    }
    at::Tensor sum = at::zeros({n}, kF32);
    for (int r = 0; r < ranks; ++r) {
      const at::Tensor g = gradient(r, bucket + data_offset, step, n);
      if (momentum > 0) {
        u[r].mul_(momentum).add_(g);
        v[r].add_(u[r]);
      } else {
        v[r].add_(g);
      }
      const at::Tensor idx =
          topk::selectLargest(v[r], topk::targetCount(n, ratio), sample, topk::sampleSeed(r, bucket, step));
      if (r == me) *mine += idx.numel();
      sum.index_add_(0, idx, v[r].index_select(0, idx));
      v[r].index_fill_(0, idx, 0.0);
      u[r].index_fill_(0, idx, 0.0);
    }
    if (ranks > 1) sum.div_(ranks);
    return sum;
  }
};

// Top-k over `group` (data: seeded by group rank and bucket id + data_offset)
// against the local reference of every member's data.
void checkTopkOver(comm::Communicator& group, int data_offset) {
  const int P = group.size();
  for (double momentum : {0.0, 0.9}) {
    CompressionConfig cfg;
    cfg.ratio = 0.01;
    cfg.momentum = momentum;
    cfg.sample_elems = 1024;
    cfg.warmup_steps = 1;
    auto comp = make("topk", cfg);
    std::vector<TopkReference> refs(kSizes.size(), TopkReference{cfg.ratio, momentum, cfg.sample_elems, {}, {}, data_offset});
    int64_t selected = 0;
    int64_t warm_bytes = 0;
    for (int step = 0; step < 4; ++step) {
      for (size_t b = 0; b < kSizes.size(); ++b) {
        const int64_t n = kSizes[b];
        const int bucket = static_cast<int>(b);
        const int id = bucket + data_offset;
        at::Tensor g = gradient(group.rank(), id, step, n);
        comp->reduce(bucket, g, step, group);
        expectSameOnAllRanks(group, g, "topk");
        if (step < cfg.warmup_steps) {
          EXPECT_TRUE(at::allclose(g, localAverage(P, id, step, n), 1e-5, 1e-6));
          warm_bytes += 4 * n;
          continue;
        }
        const at::Tensor want = refs[b].step(P, bucket, step, n, &selected, group.rank());
        EXPECT_TRUE(at::equal(g, want)) << "momentum " << momentum << " n=" << n << " step " << step
                                        << " max error " << (g - want).abs().max().item<float>();
        if (n >= 1000) {
          // The selection is close to the requested ratio: at least half of k per rank.
          const int64_t sent = g.ne(0).sum().item<int64_t>();
          EXPECT_GE(sent, topk::targetCount(n, cfg.ratio) / 2);
          EXPECT_LE(sent, P * topk::targetCount(n, cfg.ratio));
        }
      }
    }
    EXPECT_EQ(comp->stats().selected_elements, selected);
    EXPECT_EQ(comp->stats().bytes_sent, warm_bytes + 8 * selected);
    // This rank's residuals are the reference's.
    for (const auto& [key, t] : comp->state()) {
      const int b = std::stoi(key.substr(key.find('.') + 1));
      const at::Tensor& want = key.rfind("residual", 0) == 0 ? refs[b].v[group.rank()] : refs[b].u[group.rank()];
      EXPECT_TRUE(at::equal(t, want)) << key;
    }
  }
}

TEST(CompressionMpi, TopkMatchesTheLocalReferenceOnEveryRank) {
  auto world = test::worldComm();
  checkTopkOver(*world, 0);
}

// At (dp,tp,pp) = (2,2,1) each tensor-parallel shard's two data-parallel copies
// reduce their own buckets (other data per shard) over their dp group, at the
// same time as the other shard's pair.
TEST(CompressionMpi, TopkOverTheDataParallelGroupsOfATwoByTwoLayout) {
  auto world = test::worldComm();
  if (world->size() != 4) GTEST_SKIP() << "run at 4 ranks";
  ParallelConfig pc;
  pc.dp = 2;
  pc.tp = 2;
  ParallelGrid grid(world, pc);
  ASSERT_EQ(grid.dp().size(), 2);
  checkTopkOver(grid.dp(), 100 * grid.coord().tp);
}

// The onebit test's gradients: chunk-sized ranges of gradient() zeroed, some
// on every rank at a step (skipped chunks), some on one rank only.
at::Tensor sparseGradient(int rank, int bucket, int64_t step, int64_t n, int64_t chunk) {
  at::Tensor g = gradient(rank, bucket, step, n);
  for (int64_t k = 0; k * chunk < n; ++k) {
    if ((k + step) % 3 == 0 || (k + rank) % 4 == 1) g.narrow(0, k * chunk, std::min(chunk, n - k * chunk)).zero_();
  }
  return g;
}

// The onebit test's shape prior (the same on every rank): magnitudes of another
// gradient, with one chunk in five left without a prior.
at::Tensor shapePrior(int bucket, int64_t step, int64_t n, int64_t chunk) {
  at::Tensor m = gradient(1000, bucket, step, n).abs();
  for (int64_t k = 0; k * chunk < n; k += 5) m.narrow(0, k * chunk, std::min(chunk, n - k * chunk)).zero_();
  return m;
}

// The two compressed stages of 1-bit Adam for every rank, computed locally.
struct OnebitReference {
  OnebitLayout l;
  bool skip = true;
  bool shaped = false;
  std::vector<at::Tensor> worker, server;  // per rank

  at::Tensor step(int bucket, int64_t step) {
    const int P = l.ranks;
    const int64_t n = l.numel;
    if (worker.empty()) {
      for (int r = 0; r < P; ++r) {
        worker.push_back(at::zeros({n}, kF32));
        server.push_back(at::zeros({l.part}, kF32));
      }
    }
    std::vector<at::Tensor> g(P);
    at::Tensor active;  // chunks nonzero on some rank
    for (int r = 0; r < P; ++r) {
      g[r] = sparseGradient(r, bucket, step, n, l.chunk);
      if (skip) active = r == 0 ? onebit::nonzeroChunks(g[r], l) : at::maximum(active, onebit::nonzeroChunks(g[r], l));
    }
    const auto activeOf = [&](int p) { return skip ? active.narrow(0, p * l.chunks, l.chunks) : at::Tensor(); };
    const at::Tensor d = shaped ? onebit::chunkShape(shapePrior(bucket, step, n, l.chunk), l) : at::Tensor();
    const auto shapeOf = [&](int p) { return shaped ? d.narrow(0, p * l.part, l.part) : at::Tensor(); };
    at::Tensor row = at::empty({l.partBytes()}, at::TensorOptions().dtype(at::kByte));
    std::vector<at::Tensor> sent(P);  // what rank r's compressed parts decode to
    for (int r = 0; r < P; ++r) {
      at::Tensor c = at::zeros({P * l.part}, kF32);
      c.narrow(0, 0, n).copy_(g[r] + worker[r]);
      at::Tensor y = at::zeros({P * l.part}, kF32);
      for (int p = 0; p < P; ++p) {
        onebit::encodePart(c.narrow(0, p * l.part, l.part), l, p, row, activeOf(p), shapeOf(p));
        y.narrow(0, p * l.part, l.part).copy_(onebit::decodePart(row, l, p, shapeOf(p)));
      }
      worker[r] = c.narrow(0, 0, n) - y.narrow(0, 0, n);
      sent[r] = y;
    }
    at::Tensor out = at::zeros({n}, kF32);
    for (int j = 0; j < P; ++j) {
      at::Tensor x = sent[0].narrow(0, j * l.part, l.part).clone();
      for (int r = 1; r < P; ++r) x.add_(sent[r].narrow(0, j * l.part, l.part));
      if (P > 1) x.div_(P);
      x.add_(server[j]);
      onebit::encodePart(x, l, j, row, activeOf(j), shapeOf(j));
      const at::Tensor y = onebit::decodePart(row, l, j, shapeOf(j));
      server[j] = x - y;
      const int64_t valid = l.valid(j);
      if (valid > 0) out.narrow(0, j * l.part, valid).copy_(y.narrow(0, 0, valid));
    }
    return out;
  }
};

// With and without skipped chunks, uniform or shaped.
class OnebitMpi : public ::testing::TestWithParam<std::tuple<bool, bool>> {};

TEST_P(OnebitMpi, MatchesTheLocalReferenceOnEveryRank) {
  auto world = test::worldComm();
  const int P = world->size();
  CompressionConfig cfg;
  cfg.chunk_elems = 64;
  cfg.warmup_steps = 2;
  cfg.skip_zero_chunks = std::get<0>(GetParam());
  const bool shaped = std::get<1>(GetParam());
  if (shaped) cfg.shape = ShapeKind::kAdam;
  auto comp = make("onebit", cfg);
  auto none = make("none");
  std::vector<OnebitReference> refs;
  for (int64_t n : kSizes) {
    refs.push_back(OnebitReference{onebitLayout(n, P, cfg.chunk_elems), cfg.skip_zero_chunks, shaped, {}, {}});
  }
  for (int step = 0; step < 5; ++step) {
    for (size_t b = 0; b < kSizes.size(); ++b) {
      const int64_t n = kSizes[b];
      const int id = static_cast<int>(b);
      at::Tensor g = sparseGradient(world->rank(), id, step, n, cfg.chunk_elems);
      const int64_t bytes_before = comp->stats().bytes_sent;
      if (shaped) comp->setShape(id, shapePrior(id, step, n, cfg.chunk_elems));
      if (step < cfg.warmup_steps) {
        at::Tensor plain = g.clone();
        none->reduce(id, plain, step, *world);
        comp->reduce(id, g, step, *world);
        EXPECT_TRUE(at::equal(g, plain)) << "warm-up n=" << n;
        continue;
      }
      comp->reduce(id, g, step, *world);
      expectSameOnAllRanks(*world, g, "onebit");
      const at::Tensor want = refs[b].step(id, step);
      EXPECT_TRUE(at::equal(g, want)) << "n=" << n << " step " << step << " max error "
                                      << (g - want).abs().max().item<float>();
      // 1-bit volume: about n/8 * (1 + 1/P) bytes plus the scales, whatever P.
      const OnebitLayout& l = refs[b].l;
      const int64_t bytes = comp->stats().bytes_sent - bytes_before;
      const int64_t skip_bytes = cfg.skip_zero_chunks && P > 1 ? P * l.chunks : 0;
      EXPECT_EQ(bytes, (P + 1) * l.partBytes() + skip_bytes);
      const double scale_bytes = 4.0 * (P + 1) * l.chunks + static_cast<double>(skip_bytes);
      EXPECT_LE(static_cast<double>(bytes), 2.2 * static_cast<double>(n) / 8 + scale_bytes + (P + 1))
          << "n=" << n << " ranks " << P;
      if (n >= 5003) {
        EXPECT_LT(static_cast<double>(bytes), 0.1 * 4 * static_cast<double>(n));
      }
    }
  }
  // This rank's residuals are the reference's.
  for (const auto& [key, t] : comp->state()) {
    const int b = std::stoi(key.substr(key.find('.') + 1));
    const at::Tensor& want =
        key.rfind("server", 0) == 0 ? refs[b].server[world->rank()] : refs[b].worker[world->rank()];
    EXPECT_TRUE(at::equal(t, want)) << key;
  }
}

INSTANTIATE_TEST_SUITE_P(SkipZeroChunksAndShape, OnebitMpi, ::testing::Combine(::testing::Bool(), ::testing::Bool()));

}  // namespace
}  // namespace autoglm::parallel::data_parallel::compression
