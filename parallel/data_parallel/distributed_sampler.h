#pragma once
// Epoch order and batches of graph indices, deterministic for (seed, epoch),
// sharded across data-parallel ranks.
//
// epochBatches() cuts the shuffled epoch into global batches of world x the
// per-rank limits, then splits each global batch into `world` shares balanced
// by node count (largest graph first onto the lightest share). So every rank
// takes the same number of steps, step k of all ranks together is exactly
// global batch k (what one process would train on), and nothing depends on
// timing. A last global batch with fewer graphs than ranks is padded with
// graphs from the start of the epoch, so no rank gets an empty share. The node
// budget holds for the global batch; a rank's share can exceed its per-rank
// budget by less than its largest graph.

#include <cstdint>
#include <functional>
#include <vector>

#include "core/graph/graph_batch.h"

namespace autoglm::parallel::data_parallel {

struct SamplerOptions {
  uint64_t seed = 0;
  bool shuffle = true;
  int rank = 0;
  int world = 1;
};

class DistributedSampler {
 public:
  DistributedSampler(std::vector<int64_t> indices, SamplerOptions opts);
  // The whole epoch's order (the same on every rank).
  std::vector<int64_t> epochOrder(int64_t epoch) const;
  // This rank's batches for the epoch; `limits` are per rank. With
  // global_sizes, also the number of graphs of each global batch (all ranks'
  // shares of that step together), for losses averaged over the global batch.
  std::vector<std::vector<int64_t>> epochBatches(int64_t epoch, const core::graph::BatchLimits& limits,
                                                 const std::function<int64_t(int64_t)>& num_nodes,
                                                 std::vector<int64_t>* global_sizes = nullptr) const;
  int64_t size() const { return static_cast<int64_t>(indices_.size()); }

 private:
  std::vector<int64_t> indices_;
  SamplerOptions opts_;
};

// Splits one batch into `world` shares balanced by node count; each share keeps
// the batch's order. Requires batch.size() >= world.
std::vector<std::vector<int64_t>> splitBalanced(const std::vector<int64_t>& batch, int world,
                                                const std::function<int64_t(int64_t)>& num_nodes);

}  // namespace autoglm::parallel::data_parallel
