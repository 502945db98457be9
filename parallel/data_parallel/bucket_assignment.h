#pragma once
// How the gradient reducer groups parameters into buckets.

#include <cstdint>
#include <vector>

namespace autoglm::parallel::data_parallel {

// Groups parameters (by index into `numels`, their element counts) into buckets
// of at most `bucket_bytes` of float32 gradient, in reverse index order:
// backward produces the last layers' gradients first, so the first bucket
// completes first. A parameter larger than a bucket gets one of its own; every
// bucket holds at least one parameter. Throws ConfigError when bucket_bytes < 4.
std::vector<std::vector<int64_t>> assignBuckets(const std::vector<int64_t>& numels, int64_t bucket_bytes);

}  // namespace autoglm::parallel::data_parallel
