#include "parallel/distributed_sampler.h"

#include <algorithm>
#include <random>

#include "core/error.h"

namespace autoglm::parallel {

DistributedSampler::DistributedSampler(std::vector<int64_t> indices, SamplerOptions opts)
    : indices_(std::move(indices)), opts_(opts) {
  AUTOGLM_CHECK(opts_.world >= 1 && opts_.rank >= 0 && opts_.rank < opts_.world,
                "bad sampler rank ", opts_.rank, " of world ", opts_.world);
}

std::vector<int64_t> DistributedSampler::epochOrder(int64_t epoch) const {
  std::vector<int64_t> order = indices_;
  if (opts_.shuffle) {
    // std::mt19937_64 output is fixed by the standard; the shuffle below is ours,
    // so the order is the same on every platform and standard library.
    std::mt19937_64 rng(opts_.seed * 1000003ull + static_cast<uint64_t>(epoch));
    for (size_t i = order.size(); i > 1; --i) {
      const size_t j = static_cast<size_t>(rng() % i);
      std::swap(order[i - 1], order[j]);
    }
  }
  if (opts_.world == 1) return order;
  std::vector<int64_t> mine;
  for (size_t i = static_cast<size_t>(opts_.rank); i < order.size(); i += static_cast<size_t>(opts_.world)) {
    mine.push_back(order[i]);
  }
  return mine;
}

}  // namespace autoglm::parallel
