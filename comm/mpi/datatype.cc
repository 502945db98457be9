#include "comm/mpi/datatype.h"

#include "comm/mpi/check.h"
#include "comm/reduce_kernels.h"
#include "core/error.h"

namespace autoglm::comm::mpi {
namespace {

template <c10::ScalarType D, ReduceOp O>
void userOp(void* in, void* inout, int* len, MPI_Datatype*) {
  reduceInto(inout, in, *len, D, O);
}

}  // namespace

MPI_Datatype mpiDatatype(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::ScalarType::Float: return MPI_FLOAT;
    case c10::ScalarType::Half: return MPI_UINT16_T;
    case c10::ScalarType::BFloat16: return MPI_UINT16_T;
    case c10::ScalarType::Int: return MPI_INT32_T;
    case c10::ScalarType::Long: return MPI_INT64_T;
    case c10::ScalarType::Byte: return MPI_UINT8_T;
    default:
      throw CommError(autoglm::detail::concat("MPI backend: dtype ", c10::toString(dtype),
                                              " is not supported (supported: ",
                                              supportedDtypesText(), ")"));
  }
}

ReduceOps::ReduceOps() {
  using S = c10::ScalarType;
  AUTOGLM_CHECK_MPI(MPI_Op_create(&userOp<S::Half, ReduceOp::kSum>, 1, &half_sum_));
  AUTOGLM_CHECK_MPI(MPI_Op_create(&userOp<S::Half, ReduceOp::kMax>, 1, &half_max_));
  AUTOGLM_CHECK_MPI(MPI_Op_create(&userOp<S::BFloat16, ReduceOp::kSum>, 1, &bf16_sum_));
  AUTOGLM_CHECK_MPI(MPI_Op_create(&userOp<S::BFloat16, ReduceOp::kMax>, 1, &bf16_max_));
}

ReduceOps::~ReduceOps() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  for (MPI_Op* op : {&half_sum_, &half_max_, &bf16_sum_, &bf16_max_}) {
    if (*op != MPI_OP_NULL) MPI_Op_free(op);
  }
}

MPI_Op ReduceOps::get(c10::ScalarType dtype, ReduceOp op) const {
  const bool max = op == ReduceOp::kMax;
  if (dtype == c10::ScalarType::Half) return max ? half_max_ : half_sum_;
  if (dtype == c10::ScalarType::BFloat16) return max ? bf16_max_ : bf16_sum_;
  return max ? MPI_MAX : MPI_SUM;
}

}  // namespace autoglm::comm::mpi
