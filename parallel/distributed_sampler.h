#pragma once
// Epoch order of graph indices, deterministic for (seed, epoch), optionally
// sharded across data-parallel ranks.
//
// With world == 1 this is a seeded shuffle. With world > 1 every rank takes a
// disjoint share of the epoch; the data-parallel issue adds balancing by node
// count and equal step counts per rank.

#include <cstdint>
#include <vector>

namespace autoglm::parallel {

struct SamplerOptions {
  uint64_t seed = 0;
  bool shuffle = true;
  int rank = 0;
  int world = 1;
};

class DistributedSampler {
 public:
  DistributedSampler(std::vector<int64_t> indices, SamplerOptions opts);
  // Indices for this rank in epoch `epoch` (0-based).
  std::vector<int64_t> epochOrder(int64_t epoch) const;
  int64_t size() const { return static_cast<int64_t>(indices_.size()); }

 private:
  std::vector<int64_t> indices_;
  SamplerOptions opts_;
};

}  // namespace autoglm::parallel
