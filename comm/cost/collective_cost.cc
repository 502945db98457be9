#include "comm/cost/collective_cost.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace autoglm::comm::cost {

LinkCost LinkCost::fromLatencyBandwidth(double latency_us, double gbit_per_s) {
  AUTOGLM_CHECK(latency_us >= 0.0 && gbit_per_s > 0.0, "link: latency ", latency_us, " us, bandwidth ", gbit_per_s,
                " Gbit/s: need latency >= 0 and bandwidth > 0");
  return LinkCost{latency_us * 1e-6, 8.0 / (gbit_per_s * 1e9)};
}

double LinkCost::gbitPerSecond() const { return beta_s_per_byte > 0.0 ? 8e-9 / beta_s_per_byte : 0.0; }

void Topology::check() const {
  AUTOGLM_CHECK(ranks >= 1, "topology: ranks=", ranks, ": must be >= 1");
  AUTOGLM_CHECK(ranks_per_node >= 1, "topology: ranks_per_node=", ranks_per_node, ": must be >= 1");
  AUTOGLM_CHECK(intra.alpha_s >= 0 && intra.beta_s_per_byte >= 0 && inter.alpha_s >= 0 && inter.beta_s_per_byte >= 0,
                "topology: link costs must be >= 0");
}

namespace {

double ringAllreduce(double bytes, int64_t p, const LinkCost& link) {
  return 2.0 * static_cast<double>(p - 1) * link.seconds(bytes / static_cast<double>(p));
}

double steps(int64_t p) { return static_cast<double>(p - 1); }

}  // namespace

double allreduceSeconds(double bytes, const Topology& topo) {
  topo.check();
  const int64_t p = topo.ranks;
  if (p <= 1) return 0.0;
  const int64_t g = topo.perNode();
  const int64_t n = topo.nodes();
  if (topo.allreduce == AllreduceAlgorithm::kRing || n == 1 || g == 1) return ringAllreduce(bytes, p, topo.slowest());
  // Reduce-scatter and all-gather inside the node, g rings across nodes sharing
  // the node's link: each carries n/g bytes, so the link carries bytes/N per step.
  const double in_node = 2.0 * steps(g) * topo.intra.seconds(bytes / static_cast<double>(g));
  const double across = 2.0 * steps(n) * topo.inter.seconds(bytes / static_cast<double>(n));
  return in_node + across;
}

double allgatherSeconds(double bytes_per_rank, const Topology& topo) {
  topo.check();
  if (topo.ranks <= 1) return 0.0;
  return steps(topo.ranks) * topo.slowest().seconds(bytes_per_rank);
}

double reduceScatterSeconds(double bytes, const Topology& topo) {
  topo.check();
  if (topo.ranks <= 1) return 0.0;
  return steps(topo.ranks) * topo.slowest().seconds(bytes / static_cast<double>(topo.ranks));
}

double alltoallSeconds(double bytes_per_pair, const Topology& topo) {
  topo.check();
  const int64_t p = topo.ranks;
  if (p <= 1) return 0.0;
  if (topo.nodes() == 1) return steps(p) * topo.intra.seconds(bytes_per_pair);
  const int64_t g = topo.perNode();
  const double latency = steps(p) * topo.inter.alpha_s;
  const double off_node = static_cast<double>(g) * static_cast<double>(p - g) * bytes_per_pair *
                          topo.inter.beta_s_per_byte;
  const double on_node = steps(g) * bytes_per_pair * topo.intra.beta_s_per_byte;
  return latency + std::max(off_node, on_node);
}

double broadcastSeconds(double bytes, const Topology& topo) {
  topo.check();
  if (topo.ranks <= 1) return 0.0;
  const double rounds = std::ceil(std::log2(static_cast<double>(topo.ranks)));
  return rounds * topo.slowest().seconds(bytes);
}

double collectiveSeconds(Collective kind, double bytes, const Topology& topo) {
  switch (kind) {
    case Collective::kAllreduce: return allreduceSeconds(bytes, topo);
    case Collective::kAllgather: return allgatherSeconds(bytes, topo);
    case Collective::kReduceScatter: return reduceScatterSeconds(bytes, topo);
    case Collective::kAlltoall: return alltoallSeconds(bytes, topo);
    case Collective::kBroadcast: return broadcastSeconds(bytes, topo);
  }
  return 0.0;
}

Coefficients flatCoefficients(Collective kind, double bytes, int64_t ranks) {
  AUTOGLM_CHECK(ranks >= 1, "collective coefficients: ranks=", ranks);
  const double p = static_cast<double>(ranks);
  switch (kind) {
    case Collective::kAllreduce: return {2.0 * (p - 1), 2.0 * (p - 1) / p * bytes};
    case Collective::kAllgather: return {p - 1, (p - 1) * bytes};
    case Collective::kReduceScatter: return {p - 1, (p - 1) / p * bytes};
    case Collective::kAlltoall: return {p - 1, (p - 1) * bytes};
    case Collective::kBroadcast: {
      const double rounds = ranks > 1 ? std::ceil(std::log2(p)) : 0.0;
      return {rounds, rounds * bytes};
    }
  }
  return {};
}

}  // namespace autoglm::comm::cost
