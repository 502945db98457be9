#pragma once
// Data-parallel reduction of a row-sparse gradient (an embedding table's: the
// rows a rank's batch looked up, as a sparse COO tensor [rows, dim]).
//
// The result is the group average as a coalesced sparse COO tensor over the
// union of the rows any rank touched, the same on every rank; rows no rank
// touched are absent (not zero rows), so a lazy optimizer steps only the union.
// Two ways, chosen by size as Horovod chooses between allgather and allreduce
// for IndexedSlices:
//   gather  every rank's row ids and rows are all-gathered and summed
//           locally: traffic follows the touched rows;
//   dense   when the gathered rows would outweigh the table (total touched rows
//           x (dim + 1) >= rows x dim x dense_fraction), a table-sized
//           all-reduce of the rows plus one of a touched mask [rows] (uint8, max).
// Both need one small all-gather of every rank's row count first, so every
// rank picks the same way. Gathered rows travel as `wire` (float32, or
// float16 / bfloat16 under those compressions) and are summed in float32; the
// dense way all-reduces float32.

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "comm/communicator.h"

namespace autoglm::parallel::data_parallel {

struct RowSparseStats {
  int64_t bytes_sent = 0;    // bytes this rank handed to the communicator
  int64_t rows_local = 0;    // distinct rows this rank touched
  int64_t rows_union = 0;    // distinct rows of the result
  int64_t dense_reductions = 0;
};

// `local`: this rank's gradient of a parameter of shape `sizes` (2-D), sparse
// COO (any duplicates), dense (treated as touching its nonzero rows), or
// undefined (no row). Collective over `comm`: every rank calls it for the same
// parameter in the same order. dense_fraction > 0 (1.0: switch when the
// gathered rows are the table's size).
at::Tensor reduceRowSparse(const at::Tensor& local, at::IntArrayRef sizes, comm::Communicator& comm,
                           double dense_fraction, RowSparseStats& stats, at::ScalarType wire = at::kFloat);

// The row ids [k] (int64) and rows [k, dim] of a row-sparse gradient with
// duplicates summed (dense: its nonzero rows).
struct Rows {
  at::Tensor ids;
  at::Tensor values;
};
Rows distinctRows(const at::Tensor& grad, at::IntArrayRef sizes);

}  // namespace autoglm::parallel::data_parallel
