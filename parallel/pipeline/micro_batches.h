#pragma once
// A rank's share of a global batch cut into micro-batches for the pipeline.

#include <cstdint>
#include <functional>
#include <vector>

namespace autoglm::parallel::pipeline {

// Cuts `graphs` (in order) into `parts` consecutive micro-batches of about equal
// edge count (R8's graphs differ tenfold in size, so equal graph counts would
// not balance the stages' work). Every stage derives the same cut from the same
// share, so each knows the shapes it will receive. Micro-batches may be empty
// when there are fewer graphs than parts.
std::vector<std::vector<int64_t>> splitByEdges(const std::vector<int64_t>& graphs, int parts,
                                               const std::function<int64_t(int64_t)>& edges_of);

}  // namespace autoglm::parallel::pipeline
