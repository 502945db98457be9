#pragma once
// Mapping of tensor dtypes and ReduceOps to MPI handles.

#include <c10/core/ScalarType.h>
#include <mpi.h>

#include "comm/reduce_op.h"

namespace autoglm::comm::mpi {

// float16/bfloat16 travel as MPI_UINT16_T and are reduced by user-defined ops.
MPI_Datatype mpiDatatype(c10::ScalarType dtype);

// Owns the user-defined MPI_Ops for float16/bfloat16 (sum, max). Non-copyable.
class ReduceOps {
 public:
  ReduceOps();
  ~ReduceOps();
  ReduceOps(const ReduceOps&) = delete;
  ReduceOps& operator=(const ReduceOps&) = delete;

  // kAvg maps to a sum (the caller divides).
  MPI_Op get(c10::ScalarType dtype, ReduceOp op) const;

 private:
  MPI_Op half_sum_ = MPI_OP_NULL, half_max_ = MPI_OP_NULL;
  MPI_Op bf16_sum_ = MPI_OP_NULL, bf16_max_ = MPI_OP_NULL;
};

}  // namespace autoglm::comm::mpi
