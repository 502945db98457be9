#pragma once
// What a collective costs on a network, in the alpha-beta model: a message of
// n bytes over one link takes alpha + n * beta seconds (alpha: latency and
// per-message overhead; beta: seconds per byte, 1 / bandwidth). The formulas
// are the textbook ones for the algorithms this framework and NCCL run
// (Thakur, Rabenseifner and Gropp 2005; NCCL's ring), with ranks placed
// `ranks_per_node` to a node:
//
//   ring all-reduce       2 (p-1) steps of n/p bytes; every step's time is its
//                         slowest link's (the inter-node link once the ring
//                         leaves a node): 2 (p-1) (alpha + n/p beta)
//   hierarchical          reduce-scatter in the node (g-1 steps of n/g bytes),
//   all-reduce            all-reduce across the N nodes (one ring per local
//                         rank, g rings sharing each node's link: 2 (N-1)
//                         (alpha + n/N beta)), all-gather in the node
//   all-gather            p-1 steps of s bytes (s = bytes each rank contributes):
//                         (p-1) (alpha + s beta); the volume grows with p
//   reduce-scatter        (p-1) (alpha + n/p beta)
//   all-to-all            p-1 pairwise exchanges of s bytes; across nodes each
//                         node's link carries g (p-g) s bytes per direction
//   broadcast             binomial tree: ceil(log2 p) (alpha + n beta)
//   send                  alpha + n beta on the link between the two ranks
//
// Pure arithmetic: `autoglm simulate` (trainer/simulate) replays the plans on
// these costs; tests/comm/cost checks them against hand-computed cases.

#include <array>
#include <cstdint>
#include <string>

#include "core/yaml_config.h"

namespace autoglm::comm::cost {

// One link: seconds per message and seconds per byte.
struct LinkCost {
  double alpha_s = 0.0;
  double beta_s_per_byte = 0.0;

  double seconds(double bytes) const { return alpha_s + bytes * beta_s_per_byte; }
  // From a latency in microseconds and a bandwidth in Gbit/s (10^9 bits per second).
  static LinkCost fromLatencyBandwidth(double latency_us, double gbit_per_s);
  double gbitPerSecond() const;  // 8e-9 / beta (0 when beta is 0)
};

enum class AllreduceAlgorithm { kRing, kHierarchical };
constexpr std::array<core::EnumName<AllreduceAlgorithm>, 2> enumNames(AllreduceAlgorithm) {
  return {{{AllreduceAlgorithm::kRing, "ring"}, {AllreduceAlgorithm::kHierarchical, "hierarchical"}}};
}

// A group of `ranks` ranks, `ranks_per_node` to a node (the last node may hold
// fewer), the links inside a node and between nodes.
struct Topology {
  int64_t ranks = 1;
  int64_t ranks_per_node = 1;
  LinkCost intra;
  LinkCost inter;
  AllreduceAlgorithm allreduce = AllreduceAlgorithm::kRing;

  int64_t nodes() const { return (ranks + ranks_per_node - 1) / ranks_per_node; }
  // The ranks of one node that the group uses: min(ranks, ranks_per_node).
  int64_t perNode() const { return ranks < ranks_per_node ? ranks : ranks_per_node; }
  // The link a ring step crosses at its slowest: inter once the group spans nodes.
  const LinkCost& slowest() const { return nodes() > 1 ? inter : intra; }
  // Throws Error naming the field unless ranks >= 1, ranks_per_node >= 1 and costs >= 0.
  void check() const;
};

// Seconds of one collective over `topo`; 0 for a group of one rank.
double allreduceSeconds(double bytes, const Topology& topo);
double allgatherSeconds(double bytes_per_rank, const Topology& topo);
double reduceScatterSeconds(double bytes, const Topology& topo);
double alltoallSeconds(double bytes_per_pair, const Topology& topo);
double broadcastSeconds(double bytes, const Topology& topo);

enum class Collective { kAllreduce, kAllgather, kReduceScatter, kAlltoall, kBroadcast };
constexpr std::array<core::EnumName<Collective>, 5> enumNames(Collective) {
  return {{{Collective::kAllreduce, "allreduce"},
           {Collective::kAllgather, "allgather"},
           {Collective::kReduceScatter, "reduce_scatter"},
           {Collective::kAlltoall, "alltoall"},
           {Collective::kBroadcast, "broadcast"}}};
}

// The same, chosen by `kind`; `bytes` is what collective_cost's functions take.
double collectiveSeconds(Collective kind, double bytes, const Topology& topo);

// Over one link (all ranks on one node, or a flat group): t = a * alpha + b * beta.
// The coefficients (a, b) of `kind` for `bytes` at `ranks` ranks; the alpha-beta
// fit (alpha_beta_fit.h) solves for alpha and beta from measured times.
struct Coefficients {
  double alpha = 0.0;
  double beta = 0.0;
};
Coefficients flatCoefficients(Collective kind, double bytes, int64_t ranks);

}  // namespace autoglm::comm::cost
