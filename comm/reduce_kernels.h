#pragma once
// Element-wise reduction of raw buffers, used where the backend reduces itself
// (MPI user-defined ops for float16/bfloat16, the ring and shared-memory all-reduces).

#include <c10/core/ScalarType.h>

#include <cstdint>

#include "comm/reduce_op.h"

namespace autoglm::comm {

// dst[i] = dst[i] (op) src[i] for i < count. kAvg reduces as kSum (the caller
// divides once at the end). float16/bfloat16 are added in float and rounded.
void reduceInto(void* dst, const void* src, int64_t count, c10::ScalarType dtype, ReduceOp op);

// dst[i] = a[i] (op) b[i], rounded as reduceInto. dst may be a or b (in place);
// otherwise it overlaps neither. One pass instead of a copy and a reduceInto.
void reduceTwo(void* dst, const void* a, const void* b, int64_t count, c10::ScalarType dtype, ReduceOp op);

}  // namespace autoglm::comm
