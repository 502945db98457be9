#pragma once
// Word vectors from co-occurrence statistics, for initialising the embedding
// table without external pretrained vectors.
//
// Counts come from the word-word edge weights of the given graphs (the
// co-occurrence counts of the graph builder's window), so only the training
// split is seen. PPMI(i,j) = max(0, log(c_ij * C / (c_i * c_j))); the table is
// the rank-`dim` factor U * sqrt(S) of a randomized SVD of the PPMI matrix
// (Halko et al., with power iterations), rescaled to standard deviation
// `target_std`. Reserved ids and tokens without co-occurrences keep small
// random vectors.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "core/graph/graph_store.h"

namespace autoglm::core::model {

struct PpmiOptions {
  int64_t dim = 128;
  int64_t oversample = 16;
  int64_t power_iterations = 3;
  double target_std = 0.1;
  uint64_t seed = 0;
};

// Sparse symmetric PPMI matrix [vocab, vocab] (COO, coalesced) of the graphs.
at::Tensor ppmiMatrix(const graph::GraphStore& store, const std::vector<int64_t>& graphs, int64_t vocab_size);

// [vocab_size, dim] embedding table.
at::Tensor ppmiSvdEmbeddings(const graph::GraphStore& store, const std::vector<int64_t>& graphs, int64_t vocab_size,
                             const PpmiOptions& opts);

}  // namespace autoglm::core::model
