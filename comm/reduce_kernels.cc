#include "comm/reduce_kernels.h"

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>

#include "core/error.h"

namespace autoglm::comm {
namespace {

template <typename T>
void sumInto(T* __restrict dst, const T* __restrict src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
}
template <typename T>
void maxInto(T* __restrict dst, const T* __restrict src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = std::max(dst[i], src[i]);
}
// 16-bit floats: widen to float, round once per element.
template <typename T>
void sumInto16(T* __restrict dst, const T* __restrict src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<T>(static_cast<float>(dst[i]) + static_cast<float>(src[i]));
}
template <typename T>
void maxInto16(T* __restrict dst, const T* __restrict src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    float a = static_cast<float>(dst[i]), b = static_cast<float>(src[i]);
    if (b > a || (b != b)) dst[i] = src[i];
  }
}

template <typename T>
void sumTwo(T* __restrict dst, const T* __restrict a, const T* __restrict b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = a[i] + b[i];
}
template <typename T>
void maxTwo(T* __restrict dst, const T* __restrict a, const T* __restrict b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = std::max(a[i], b[i]);
}
template <typename T>
void sumTwo16(T* __restrict dst, const T* __restrict a, const T* __restrict b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<T>(static_cast<float>(a[i]) + static_cast<float>(b[i]));
}
template <typename T>
void maxTwo16(T* __restrict dst, const T* __restrict a, const T* __restrict b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    float x = static_cast<float>(a[i]), y = static_cast<float>(b[i]);
    dst[i] = (y > x || (y != y)) ? b[i] : a[i];
  }
}

template <typename T>
void dispatchTwo(void* dst, const void* a, const void* b, int64_t n, ReduceOp op) {
  T* d = static_cast<T*>(dst);
  const T* x = static_cast<const T*>(a);
  const T* y = static_cast<const T*>(b);
  if constexpr (std::is_same_v<T, c10::Half> || std::is_same_v<T, c10::BFloat16>) {
    if (op == ReduceOp::kMax) maxTwo16(d, x, y, n); else sumTwo16(d, x, y, n);
  } else {
    if (op == ReduceOp::kMax) maxTwo(d, x, y, n); else sumTwo(d, x, y, n);
  }
}

template <typename T>
void dispatch(void* dst, const void* src, int64_t n, ReduceOp op) {
  T* d = static_cast<T*>(dst);
  const T* s = static_cast<const T*>(src);
  if constexpr (std::is_same_v<T, c10::Half> || std::is_same_v<T, c10::BFloat16>) {
    if (op == ReduceOp::kMax) maxInto16(d, s, n); else sumInto16(d, s, n);
  } else {
    if (op == ReduceOp::kMax) maxInto(d, s, n); else sumInto(d, s, n);
  }
}

}  // namespace

void reduceInto(void* dst, const void* src, int64_t count, c10::ScalarType dtype, ReduceOp op) {
  switch (dtype) {
    case c10::ScalarType::Float: return dispatch<float>(dst, src, count, op);
    case c10::ScalarType::Half: return dispatch<c10::Half>(dst, src, count, op);
    case c10::ScalarType::BFloat16: return dispatch<c10::BFloat16>(dst, src, count, op);
    case c10::ScalarType::Int: return dispatch<int32_t>(dst, src, count, op);
    case c10::ScalarType::Long: return dispatch<int64_t>(dst, src, count, op);
    case c10::ScalarType::Byte: return dispatch<uint8_t>(dst, src, count, op);
    default:
      throw CommError(autoglm::detail::concat("reduceInto: dtype ", c10::toString(dtype),
                                              " is not supported (supported: ",
                                              supportedDtypesText(), ")"));
  }
}

void reduceTwo(void* dst, const void* a, const void* b, int64_t count, c10::ScalarType dtype, ReduceOp op) {
  switch (dtype) {
    case c10::ScalarType::Float: return dispatchTwo<float>(dst, a, b, count, op);
    case c10::ScalarType::Half: return dispatchTwo<c10::Half>(dst, a, b, count, op);
    case c10::ScalarType::BFloat16: return dispatchTwo<c10::BFloat16>(dst, a, b, count, op);
    case c10::ScalarType::Int: return dispatchTwo<int32_t>(dst, a, b, count, op);
    case c10::ScalarType::Long: return dispatchTwo<int64_t>(dst, a, b, count, op);
    case c10::ScalarType::Byte: return dispatchTwo<uint8_t>(dst, a, b, count, op);
    default:
      throw CommError(autoglm::detail::concat("reduceTwo: dtype ", c10::toString(dtype),
                                              " is not supported (supported: ",
                                              supportedDtypesText(), ")"));
  }
}

}  // namespace autoglm::comm
