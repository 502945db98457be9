// The alpha-beta costs of collectives against hand-computed cases and against a
// step-by-step ring written independently here; the fit on synthetic timings.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "comm/cost/alpha_beta_fit.h"
#include "comm/cost/collective_cost.h"
#include "core/error.h"

namespace autoglm::comm::cost {
namespace {

Topology oneNode(int64_t ranks, LinkCost link) {
  Topology t;
  t.ranks = ranks;
  t.ranks_per_node = ranks;
  t.intra = link;
  t.inter = link;
  return t;
}

TEST(LinkCost, FromLatencyAndBandwidth) {
  const LinkCost l = LinkCost::fromLatencyBandwidth(10.0, 25.0);
  EXPECT_DOUBLE_EQ(l.alpha_s, 1e-5);
  EXPECT_DOUBLE_EQ(l.beta_s_per_byte, 8.0 / 25e9);
  EXPECT_NEAR(l.gbitPerSecond(), 25.0, 1e-9);
  // 1 MB at 25 Gbit/s: 320 us plus 10 us.
  EXPECT_NEAR(l.seconds(1e6), 330e-6, 1e-12);
  EXPECT_THROW(LinkCost::fromLatencyBandwidth(1.0, 0.0), Error);
}

TEST(CollectiveCost, RingAllreduceByHand) {
  // 4 ranks, alpha 10 us, beta 1 ns/B, 4 MB: 2*3 steps of (10 us + 1 MB * 1 ns) = 6.06 ms.
  const Topology t = oneNode(4, LinkCost{1e-5, 1e-9});
  EXPECT_NEAR(allreduceSeconds(4e6, t), 6.06e-3, 1e-12);
  EXPECT_EQ(allreduceSeconds(4e6, oneNode(1, LinkCost{1e-5, 1e-9})), 0.0);
}

TEST(CollectiveCost, HierarchicalAllreduceByHand) {
  Topology t;
  t.ranks = 8;
  t.ranks_per_node = 4;
  t.intra = LinkCost{1e-6, 1e-10};
  t.inter = LinkCost{1e-5, 1e-9};
  t.allreduce = AllreduceAlgorithm::kHierarchical;
  // In node: 2*3*(1 us + 2 MB * 0.1 ns) = 1.206 ms; across the 2 nodes: 2*1*(10 us + 4 MB * 1 ns) = 8.02 ms.
  EXPECT_NEAR(allreduceSeconds(8e6, t), 1.206e-3 + 8.02e-3, 1e-12);
  // The flat ring pays the inter link on all 14 steps: 14*(10 us + 1 MB * 1 ns) = 14.14 ms.
  t.allreduce = AllreduceAlgorithm::kRing;
  EXPECT_NEAR(allreduceSeconds(8e6, t), 14.14e-3, 1e-12);
}

// A ring all-reduce run step by step: 2(p-1) steps, in each every rank sends
// one chunk of n/p bytes to the next rank; a step lasts as long as its slowest
// transfer (intra when both ranks share a node, inter otherwise).
double steppedRing(double bytes, int64_t p, int64_t per_node, LinkCost intra, LinkCost inter) {
  double total = 0;
  for (int64_t step = 0; step < 2 * (p - 1); ++step) {
    double slowest = 0;
    for (int64_t r = 0; r < p; ++r) {
      const int64_t to = (r + 1) % p;
      const LinkCost& l = (r / per_node == to / per_node) ? intra : inter;
      slowest = std::max(slowest, l.seconds(bytes / static_cast<double>(p)));
    }
    total += slowest;
  }
  return total;
}

TEST(CollectiveCost, RingMatchesAStepByStepRing) {
  const LinkCost intra{2e-6, 1e-10}, inter{3e-5, 3.2e-10};
  for (int64_t p : {2, 3, 4, 7, 8, 64}) {
    for (int64_t per_node : {1, 2, 4, 8}) {
      Topology t;
      t.ranks = p;
      t.ranks_per_node = per_node;
      t.intra = intra;
      t.inter = inter;
      for (double bytes : {0.0, 4.0, 1e6, 1.78e8}) {
        EXPECT_NEAR(allreduceSeconds(bytes, t), steppedRing(bytes, p, per_node, intra, inter), 1e-12)
            << p << " ranks, " << per_node << " per node, " << bytes << " bytes";
      }
    }
  }
}

TEST(CollectiveCost, GatherVolumesGrowWithRanks) {
  const LinkCost l{1e-5, 1e-9};
  // All-gather of 1 KB per rank at 5 ranks: 4*(10 us + 1 us); reduce-scatter of 5 KB: the same.
  EXPECT_NEAR(allgatherSeconds(1e3, oneNode(5, l)), 44e-6, 1e-12);
  EXPECT_NEAR(reduceScatterSeconds(5e3, oneNode(5, l)), 44e-6, 1e-12);
  // Broadcast: ceil(log2 5) = 3 rounds of the whole message.
  EXPECT_NEAR(broadcastSeconds(1e3, oneNode(5, l)), 33e-6, 1e-12);
  EXPECT_GT(allgatherSeconds(1e3, oneNode(64, l)), 10 * allgatherSeconds(1e3, oneNode(5, l)));
}

TEST(CollectiveCost, AlltoallAcrossNodesSharesTheNodeLink) {
  Topology t;
  t.ranks = 8;
  t.ranks_per_node = 4;
  t.intra = LinkCost{0.0, 1e-11};
  t.inter = LinkCost{1e-5, 1e-9};
  // Each node's link carries 4 ranks x 4 off-node peers x 1 KB = 16 KB: 16 us, plus 7 latencies.
  EXPECT_NEAR(alltoallSeconds(1e3, t), 7e-5 + 16e-6, 1e-12);
}

TEST(CollectiveCost, FlatCoefficientsReproduceTheCosts) {
  const LinkCost l{7e-6, 4e-10};
  for (Collective kind : {Collective::kAllreduce, Collective::kAllgather, Collective::kReduceScatter,
                          Collective::kAlltoall, Collective::kBroadcast}) {
    for (int64_t p : {2, 3, 16}) {
      const Coefficients c = flatCoefficients(kind, 12345.0, p);
      EXPECT_NEAR(c.alpha * l.alpha_s + c.beta * l.beta_s_per_byte, collectiveSeconds(kind, 12345.0, oneNode(p, l)),
                  1e-15)
          << core::enumName(kind) << " at " << p;
    }
  }
}

std::vector<TimingSample> synthetic(Collective kind, int64_t ranks, LinkCost link, double noise) {
  std::vector<TimingSample> out;
  int i = 0;
  for (double bytes = 4; bytes <= 64.0 * 1024 * 1024; bytes *= 4, ++i) {
    const Coefficients c = flatCoefficients(kind, bytes, ranks);
    const double wobble = 1.0 + noise * ((i % 3) - 1);  // -noise, 0, +noise in turn
    out.push_back({bytes, (c.alpha * link.alpha_s + c.beta * link.beta_s_per_byte) * wobble});
  }
  return out;
}

TEST(AlphaBetaFit, RecoversExactTimings) {
  const LinkCost link = LinkCost::fromLatencyBandwidth(25.0, 10.0);
  for (Collective kind : {Collective::kAllreduce, Collective::kAllgather, Collective::kAlltoall}) {
    const AlphaBetaFit fit = fitAlphaBeta(kind, 4, synthetic(kind, 4, link, 0.0));
    EXPECT_NEAR(fit.link.alpha_s / link.alpha_s, 1.0, 1e-9) << core::enumName(kind);
    EXPECT_NEAR(fit.link.beta_s_per_byte / link.beta_s_per_byte, 1.0, 1e-9) << core::enumName(kind);
    EXPECT_LT(fit.max_relative_error, 1e-9);
    EXPECT_EQ(fit.samples, 13);
  }
}

TEST(AlphaBetaFit, NoisyTimingsStayClose) {
  const LinkCost link = LinkCost::fromLatencyBandwidth(40.0, 1.0);
  const AlphaBetaFit fit = fitAlphaBeta(Collective::kAllreduce, 2, synthetic(Collective::kAllreduce, 2, link, 0.05));
  EXPECT_NEAR(fit.link.alpha_s / link.alpha_s, 1.0, 0.1);
  EXPECT_NEAR(fit.link.beta_s_per_byte / link.beta_s_per_byte, 1.0, 0.1);
  EXPECT_NEAR(fit.max_relative_error, 0.05, 0.02);
}

TEST(AlphaBetaFit, LatencyOnlyTimingsGiveZeroBeta) {
  std::vector<TimingSample> flat{{4, 1e-5}, {1024, 1.01e-5}, {4096, 0.99e-5}};
  const AlphaBetaFit fit = fitAlphaBeta(Collective::kAllreduce, 2, flat);
  EXPECT_GE(fit.link.beta_s_per_byte, 0.0);
  EXPECT_GE(fit.link.alpha_s, 0.0);
  EXPECT_NEAR(fit.link.alpha_s * 2, 1e-5, 2e-7);  // 2 (p-1) = 2 messages
}

TEST(AlphaBetaFit, RefusesWhatCannotBeFitted) {
  EXPECT_THROW(fitAlphaBeta(Collective::kAllreduce, 2, {{4, 1e-5}}), Error);
  EXPECT_THROW(fitAlphaBeta(Collective::kAllreduce, 2, {{4, 1e-5}, {4, 2e-5}}), Error);
  EXPECT_THROW(fitAlphaBeta(Collective::kAllreduce, 2, {{4, 1e-5}, {8, 0.0}}), Error);
  EXPECT_THROW(fitAlphaBeta(Collective::kAllreduce, 1, {{4, 1e-5}, {8, 2e-5}}), Error);
}

}  // namespace
}  // namespace autoglm::comm::cost
