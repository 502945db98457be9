#pragma once
// Reduction operators and the element types the communicators accept.

#include <c10/core/ScalarType.h>

#include <string>

namespace autoglm::comm {

enum class ReduceOp { kSum, kAvg, kMax };

const char* toString(ReduceOp op);

// float32, float16, bfloat16, int32, int64, uint8.
bool isSupportedDtype(c10::ScalarType dtype);
std::string supportedDtypesText();

}  // namespace autoglm::comm
