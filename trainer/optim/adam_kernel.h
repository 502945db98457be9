#pragma once
// The per-element arithmetic of the fused Adam/AdamW update (optimizer.h), in
// one pass over memory, for a dense gradient and for a row-sparse one
// (row_sparse.h). All three apply the same function to each element they
// visit, so a row-sparse step that visits every row with zeros for the
// untouched ones is bit for bit the dense step on the densified gradient.

#include <ATen/core/Tensor.h>

#include "trainer/optim/row_sparse.h"

namespace autoglm::trainer {

// One parameter's step: the group's options and this step's bias corrections.
struct AdamStep {
  float lr, beta1, beta2, eps, weight_decay;
  bool decoupled;  // AdamW: p *= 1 - lr*wd; Adam: g += wd*p
  double bias_correction1, bias_correction2;
  bool frozen;  // v stays (bias_correction2 is then the freeze step's)
};

// p, m, v: contiguous float32 CPU tensors of one shape; g likewise.
void adamDense(at::Tensor& p, const at::Tensor& g, at::Tensor& m, at::Tensor& v, const AdamStep& s);

// The exact dense step with `g`'s rows and zeros elsewhere: every row of p, m
// and v moves (moments of untouched rows decay), without a dense gradient.
void adamRowsExact(at::Tensor& p, const RowGrad& g, at::Tensor& m, at::Tensor& v, const AdamStep& s);

// The lazy step: only `g`'s rows of p, m and v move, each as in the dense step
// (weight decay included); O(touched rows x row width).
void adamRowsLazy(at::Tensor& p, const RowGrad& g, at::Tensor& m, at::Tensor& v, const AdamStep& s);

}  // namespace autoglm::trainer
