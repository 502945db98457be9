#pragma once
// LibTorch's Adagrad, taking sparse gradients with weight decay too.
//
// A sparse gradient of a float32 CPU parameter is stepped here, on its rows
// only, by the arithmetic of LibTorch's dense step. Without weight decay that
// is the dense step on the densified gradient, bit for bit, lazy or not: a
// zero gradient leaves a row and its sum unchanged, so the row-sparse update
// is exact. (LibTorch's own sparse path moves touched rows only too, but it
// rounds differently from its dense one.) LibTorch refuses weight decay with
// sparse gradients; here
//  - not lazy: the gradient is densified for the step, so decay reaches every
//    row (and every sum) as in the dense step;
//  - lazy (setLazyRows(true)): g += wd*p on the touched rows only; untouched
//    rows and their sums stay.
// State (step, sum) and checkpoints are LibTorch's.

#include <torch/optim/adagrad.h>

#include "trainer/optim/row_sparse.h"

namespace autoglm::trainer {

class LibTorchAdagrad : public torch::optim::Adagrad, public LazyRows {
 public:
  using torch::optim::Adagrad::Adagrad;
  torch::Tensor step(LossClosure closure = nullptr) override;
};

}  // namespace autoglm::trainer
