#include "parallel/data_parallel/distributed_sampler.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "core/error.h"

namespace autoglm::parallel::data_parallel {

DistributedSampler::DistributedSampler(std::vector<int64_t> indices, SamplerOptions opts)
    : indices_(std::move(indices)), opts_(opts) {
  AUTOGLM_CHECK(opts_.world >= 1 && opts_.rank >= 0 && opts_.rank < opts_.world,
                "bad sampler rank ", opts_.rank, " of world ", opts_.world);
}

std::vector<int64_t> DistributedSampler::epochOrder(int64_t epoch) const {
  std::vector<int64_t> order = indices_;
  if (opts_.shuffle) {
    // std::mt19937_64 output is fixed by the standard and the shuffle below is
    // ours, so the order is the same on every platform and standard library.
    std::mt19937_64 rng(opts_.seed * 1000003ull + static_cast<uint64_t>(epoch));
    for (size_t i = order.size(); i > 1; --i) {
      const size_t j = static_cast<size_t>(rng() % i);
      std::swap(order[i - 1], order[j]);
    }
  }
  return order;
}

std::vector<std::vector<int64_t>> splitBalanced(const std::vector<int64_t>& batch, int world,
                                                const std::function<int64_t(int64_t)>& num_nodes) {
  AUTOGLM_CHECK(static_cast<int64_t>(batch.size()) >= world, "cannot split ", batch.size(), " graphs into ",
                world, " non-empty shares");
  if (world == 1) return {batch};
  std::vector<size_t> pos(batch.size());
  std::iota(pos.begin(), pos.end(), size_t{0});
  std::stable_sort(pos.begin(), pos.end(),
                   [&](size_t a, size_t b) { return num_nodes(batch[a]) > num_nodes(batch[b]); });
  std::vector<int64_t> load(static_cast<size_t>(world), 0);
  std::vector<int> owner(batch.size(), 0);
  for (size_t p : pos) {
    const auto lightest = static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    owner[p] = static_cast<int>(lightest);
    load[lightest] += num_nodes(batch[p]);
  }
  std::vector<std::vector<int64_t>> shares(static_cast<size_t>(world));
  for (size_t p = 0; p < batch.size(); ++p) shares[static_cast<size_t>(owner[p])].push_back(batch[p]);
  return shares;
}

std::vector<std::vector<int64_t>> DistributedSampler::epochBatches(
    int64_t epoch, const core::graph::BatchLimits& limits, const std::function<int64_t(int64_t)>& num_nodes,
    std::vector<int64_t>* global_sizes) const {
  const std::vector<int64_t> order = epochOrder(epoch);
  const int world = opts_.world;
  core::graph::BatchLimits global{limits.max_graphs * world, limits.max_nodes * world};
  std::vector<std::vector<int64_t>> mine;
  if (global_sizes != nullptr) global_sizes->clear();
  if (order.empty()) return mine;
  size_t pad = 0;
  for (auto& batch : core::graph::planBatches(order, num_nodes, global)) {
    while (static_cast<int>(batch.size()) < world) batch.push_back(order[pad++ % order.size()]);
    if (global_sizes != nullptr) global_sizes->push_back(static_cast<int64_t>(batch.size()));
    mine.push_back(std::move(splitBalanced(batch, world, num_nodes)[static_cast<size_t>(opts_.rank)]));
  }
  return mine;
}

}  // namespace autoglm::parallel::data_parallel
