#include "parallel/data_parallel/bucket_assignment.h"

#include <algorithm>

#include "core/error.h"

namespace autoglm::parallel::data_parallel {

std::vector<std::vector<int64_t>> assignBuckets(const std::vector<int64_t>& numels, int64_t bucket_bytes) {
  if (bucket_bytes < 4) throw ConfigError("parallel.bucket_mb: bucket size must be at least 4 bytes");
  const int64_t cap = std::max<int64_t>(1, bucket_bytes / 4);
  std::vector<std::vector<int64_t>> groups;
  int64_t fill = 0;
  for (int64_t i = static_cast<int64_t>(numels.size()) - 1; i >= 0; --i) {
    const int64_t n = numels[static_cast<size_t>(i)];
    if (groups.empty() || (fill > 0 && fill + n > cap)) {
      groups.emplace_back();
      fill = 0;
    }
    groups.back().push_back(i);
    fill += n;
  }
  return groups;
}

}  // namespace autoglm::parallel::data_parallel
