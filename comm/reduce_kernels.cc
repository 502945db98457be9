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

// dst = a (op) b element-wise. dst may be a or b: then that input is read and
// written through one restrict pointer, so every case vectorises (a runtime
// alias check would fall back to scalar code exactly when they alias).
template <typename T, typename F>
void combine(T* dst, const T* a, const T* b, int64_t n, F f) {
  if (dst == a) {
    T* __restrict io = dst;
    const T* __restrict y = b;
    for (int64_t i = 0; i < n; ++i) io[i] = f(io[i], y[i]);
  } else if (dst == b) {
    T* __restrict io = dst;
    const T* __restrict x = a;
    for (int64_t i = 0; i < n; ++i) io[i] = f(x[i], io[i]);
  } else {
    T* __restrict d = dst;
    const T* __restrict x = a;
    const T* __restrict y = b;
    for (int64_t i = 0; i < n; ++i) d[i] = f(x[i], y[i]);
  }
}

template <typename T>
void dispatchTwo(void* dst, const void* a, const void* b, int64_t n, ReduceOp op) {
  T* d = static_cast<T*>(dst);
  const T* x = static_cast<const T*>(a);
  const T* y = static_cast<const T*>(b);
  if constexpr (std::is_same_v<T, c10::Half> || std::is_same_v<T, c10::BFloat16>) {
    // As sumInto16/maxInto16: widen to float, round once.
    if (op == ReduceOp::kMax) {
      combine(d, x, y, n, [](T p, T q) {
        const float fp = static_cast<float>(p), fq = static_cast<float>(q);
        return (fq > fp || (fq != fq)) ? q : p;
      });
    } else {
      combine(d, x, y, n, [](T p, T q) { return static_cast<T>(static_cast<float>(p) + static_cast<float>(q)); });
    }
  } else {
    if (op == ReduceOp::kMax) {
      combine(d, x, y, n, [](T p, T q) { return std::max(p, q); });
    } else {
      combine(d, x, y, n, [](T p, T q) { return static_cast<T>(p + q); });
    }
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
