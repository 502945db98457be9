#pragma once
// All-reduce paths for large messages, where Open MPI 4.1's MPI_Allreduce loses
// most of its bandwidth (benchmarks/collective/README.md).
//
// Both reduce `count` elements of `buf` in place over `comm` (kAvg as a sum).

#include <c10/core/ScalarType.h>
#include <mpi.h>

#include <cstdint>
#include <vector>

#include "comm/reduce_op.h"

namespace autoglm::comm::mpi {

// MPI_Allreduce over consecutive chunks of `chunk_bytes`: keeps every call in
// the size range where Open MPI's algorithm choice is fast.
void chunkedAllreduce(void* buf, int64_t count, c10::ScalarType dtype, MPI_Datatype type, MPI_Op op,
                      MPI_Comm comm, int64_t chunk_bytes);

// Ring all-reduce over point-to-point: reduce-scatter then allgather in
// size-1 steps each; every step moves its segment in chunks of `chunk_bytes`,
// the next chunk in flight while the current one is reduced. `scratch` is
// reused between calls.
void ringAllreduce(void* buf, int64_t count, c10::ScalarType dtype, ReduceOp op, MPI_Comm comm,
                   int64_t chunk_bytes, std::vector<uint8_t>& scratch);

}  // namespace autoglm::comm::mpi
