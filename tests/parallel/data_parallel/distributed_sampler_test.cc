#include "parallel/data_parallel/distributed_sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>

namespace autoglm::parallel::data_parallel {
namespace {

struct Epoch {
  std::vector<int64_t> nodes;  // node count of graph i
  std::vector<int64_t> ids;
  explicit Epoch(int n) {
    for (int i = 0; i < n; ++i) {
      nodes.push_back(3 + (i * 37) % 41);  // sizes 3..43, uneven
      ids.push_back(i);
    }
  }
  std::function<int64_t(int64_t)> fn() const {
    return [this](int64_t i) { return nodes[static_cast<size_t>(i)]; };
  }
};

std::vector<std::vector<std::vector<int64_t>>> allRanks(const Epoch& e, int world, core::graph::BatchLimits limits,
                                                         int64_t epoch = 0) {
  std::vector<std::vector<std::vector<int64_t>>> out;
  for (int r = 0; r < world; ++r) {
    DistributedSampler s(e.ids, {7, true, r, world});
    out.push_back(s.epochBatches(epoch, limits, e.fn()));
  }
  return out;
}

TEST(DistributedSampler, OneRankMatchesPlainBatchingOfTheShuffledOrder) {
  Epoch e(101);
  DistributedSampler s(e.ids, {7, true, 0, 1});
  core::graph::BatchLimits limits{8, 120};
  EXPECT_EQ(s.epochBatches(3, limits, e.fn()), core::graph::planBatches(s.epochOrder(3), e.fn(), limits));
  EXPECT_NE(s.epochOrder(3), s.epochOrder(4));
  std::vector<int64_t> sorted = s.epochOrder(3);
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, e.ids);
}

class ShardedEpoch : public ::testing::TestWithParam<int> {};

TEST_P(ShardedEpoch, EqualStepsDisjointSharesThatTogetherAreTheGlobalBatches) {
  const int world = GetParam();
  Epoch e(103);  // odd, so the last global batch is ragged
  core::graph::BatchLimits limits{5, 0};
  auto ranks = allRanks(e, world, limits);
  DistributedSampler one(e.ids, {7, true, 0, 1});
  auto global = core::graph::planBatches(one.epochOrder(0), e.fn(), {limits.max_graphs * world, 0});
  for (int r = 0; r < world; ++r) ASSERT_EQ(ranks[static_cast<size_t>(r)].size(), global.size()) << "rank " << r;
  std::map<int64_t, int> seen;
  for (size_t k = 0; k < global.size(); ++k) {
    std::vector<int64_t> together;
    for (int r = 0; r < world; ++r) {
      const auto& share = ranks[static_cast<size_t>(r)][k];
      EXPECT_FALSE(share.empty()) << "rank " << r << " step " << k;
      together.insert(together.end(), share.begin(), share.end());
    }
    std::vector<int64_t> expect = global[k];
    if (k + 1 < global.size()) {
      std::sort(together.begin(), together.end());
      std::sort(expect.begin(), expect.end());
      EXPECT_EQ(together, expect) << "step " << k;
    }
    for (int64_t g : together) ++seen[g];
  }
  // Every graph is trained on; only padding of the last batch repeats a graph.
  EXPECT_EQ(seen.size(), e.ids.size());
  int repeats = 0;
  for (auto& [g, c] : seen) repeats += c - 1;
  EXPECT_LT(repeats, world);
}

TEST_P(ShardedEpoch, SharesAreBalancedByNodeCount) {
  const int world = GetParam();
  Epoch e(400);
  auto ranks = allRanks(e, world, {16, 0}, 2);
  for (size_t k = 0; k + 1 < ranks[0].size(); ++k) {
    int64_t lo = INT64_MAX, hi = 0, biggest = 0;
    for (int r = 0; r < world; ++r) {
      int64_t n = 0;
      for (int64_t g : ranks[static_cast<size_t>(r)][k]) {
        n += e.nodes[static_cast<size_t>(g)];
        biggest = std::max(biggest, e.nodes[static_cast<size_t>(g)]);
      }
      lo = std::min(lo, n);
      hi = std::max(hi, n);
    }
    // Largest-first greedy: shares differ by at most the largest graph.
    EXPECT_LE(hi - lo, biggest) << "step " << k;
  }
}

TEST_P(ShardedEpoch, SameForSeedAndEpochWhateverTheCallOrder) {
  const int world = GetParam();
  Epoch e(50);
  auto a = allRanks(e, world, {4, 60}, 5);
  auto b = allRanks(e, world, {4, 60}, 5);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, allRanks(e, world, {4, 60}, 6));
}

INSTANTIATE_TEST_SUITE_P(Worlds, ShardedEpoch, ::testing::Values(1, 2, 3, 4));

TEST(DistributedSampler, FewerGraphsThanRanksIsPaddedNotHung) {
  Epoch e(2);
  auto ranks = allRanks(e, 4, {8, 0});
  for (const auto& r : ranks) {
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].size(), 1u);
  }
}

}  // namespace
}  // namespace autoglm::parallel::data_parallel
