#pragma once
// NCCL/CUDA error checks and dtype/op mapping. Pure host code: no GPU needed.

#include <c10/core/ScalarType.h>
#include <cuda_runtime_api.h>
#include <nccl.h>

#include "comm/reduce_op.h"

namespace autoglm::comm::nccl {

// Throws CommError for dtypes outside float32, float16, bfloat16, int32, int64, uint8.
ncclDataType_t ncclDatatype(c10::ScalarType dtype);
ncclRedOp_t ncclReduceOp(ReduceOp op);

namespace detail {
// On failure throws CommError with the NCCL error string, the expression, file
// and line. (Aborting the communicator is the caller's part: CommState.)
void checkNccl(ncclResult_t r, const char* expr, const char* file, int line);
void checkCuda(cudaError_t e, const char* expr, const char* file, int line);
}  // namespace detail

}  // namespace autoglm::comm::nccl

#define AUTOGLM_CHECK_NCCL(expr) ::autoglm::comm::nccl::detail::checkNccl((expr), #expr, __FILE__, __LINE__)
#define AUTOGLM_CHECK_CUDA(expr) ::autoglm::comm::nccl::detail::checkCuda((expr), #expr, __FILE__, __LINE__)
