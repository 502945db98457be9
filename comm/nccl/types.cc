#include "comm/nccl/types.h"

#include "core/error.h"

namespace autoglm::comm::nccl {

using autoglm::detail::concat;

ncclDataType_t ncclDatatype(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::ScalarType::Float: return ncclFloat32;
    case c10::ScalarType::Half: return ncclFloat16;
    case c10::ScalarType::BFloat16: return ncclBfloat16;
    case c10::ScalarType::Int: return ncclInt32;
    case c10::ScalarType::Long: return ncclInt64;
    case c10::ScalarType::Byte: return ncclUint8;
    default:
      throw CommError(concat("NCCL backend: dtype ", c10::toString(dtype), " is not supported (supported: ",
                             supportedDtypesText(), ")"));
  }
}

ncclRedOp_t ncclReduceOp(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return ncclSum;
    case ReduceOp::kAvg: return ncclAvg;
    case ReduceOp::kMax: return ncclMax;
  }
  throw CommError("NCCL backend: unknown ReduceOp");
}

namespace detail {

void checkNccl(ncclResult_t r, const char* expr, const char* file, int line) {
  if (r == ncclSuccess || r == ncclInProgress) return;
  throw CommError(concat(expr, " failed at ", file, ":", line, ": NCCL error ", static_cast<int>(r), " (",
                         ncclGetErrorString(r), ")"));
}

void checkCuda(cudaError_t e, const char* expr, const char* file, int line) {
  if (e == cudaSuccess) return;
  throw CommError(concat(expr, " failed at ", file, ":", line, ": CUDA error ", static_cast<int>(e), " (",
                         cudaGetErrorString(e), ")"));
}

}  // namespace detail
}  // namespace autoglm::comm::nccl
