#pragma once
// Settings of the data-parallel gradient reducer (gradient_reducer.h).

#include <array>
#include <cstdint>
#include <vector>

#include "core/yaml_config.h"

namespace autoglm::parallel::data_parallel {

// parallel.reducer_mode:
//   overlap         buckets start during backward (default);
//   after_backward  all buckets start after backward, one after another;
//   off             no gradient communication (a benchmark's compute-only
//                   baseline; the ranks diverge).
enum class ReducerMode { kOverlap, kAfterBackward, kOff };
constexpr std::array<core::EnumName<ReducerMode>, 3> enumNames(ReducerMode) {
  return {{{ReducerMode::kOverlap, "overlap"},
           {ReducerMode::kAfterBackward, "after_backward"},
           {ReducerMode::kOff, "off"}}};
}

struct ReducerOptions {
  int64_t bucket_bytes = int64_t{25} << 20;
  ReducerMode mode = ReducerMode::kOverlap;
  // Parameters (indices into the reducer's list) whose gradients arrive
  // row-sparse (lookup tables, train.embedding_update: sparse or lazy): kept out
  // of the buckets and reduced as rows (row_sparse.h), after the buckets.
  std::vector<int64_t> row_sparse;
  // reduceRowSparse's dense_fraction: gather rows until they would outweigh
  // this fraction of the table, then all-reduce the table.
  double sparse_dense_fraction = 1.0;
};

}  // namespace autoglm::parallel::data_parallel
