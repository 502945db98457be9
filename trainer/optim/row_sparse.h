#pragma once
// Row-sparse gradients: a sparse COO gradient of a parameter's shape seen as
// the rows it touches (coalesced, ascending, each once), and a guard that
// swaps parameters' gradients for the length of a base optimizer's step.

#include <ATen/core/Tensor.h>

#include <utility>
#include <vector>

namespace autoglm::trainer {

// The touched rows of a sparse gradient `grad` of `p`'s shape (p.dim() >= 1):
// row ids ascending and distinct (int64, [n]), their gradient rows as a
// contiguous [n, p.numel() / p.size(0)] block. Duplicates are summed
// (coalesce). An element-sparse gradient (sparse_dim > 1) becomes the rows
// holding its elements, the rest of each row zero. O(nnz), never O(p).
struct RowGrad {
  at::Tensor rows;
  at::Tensor values;
};
RowGrad rowsOf(const at::Tensor& grad, const at::Tensor& p);

// The dense gradient a sparse one stands for, its repeated rows summed as
// coalesce() sums them. (to_dense() of an uncoalesced gradient sums a row that
// appears three or more times in another order, which can differ in the last
// bit; the row-sparse steps equal the dense step on this one.)
at::Tensor densified(const at::Tensor& grad);

// Whether the row kernels take `grad` of `p`: a float32 sparse gradient of
// the shape of `p`, a contiguous float32 CPU tensor of at least one dimension.
bool rowKernelTakes(const at::Tensor& p, const at::Tensor& grad);

// Whether an optimizer's sparse gradients move only their rows (lazy) or are
// stepped as their dense equivalents (optimizer.h); not lazy by default.
class LazyRows {
 public:
  void setLazyRows(bool on) { lazy_ = on; }
  bool lazyRows() const { return lazy_; }

 protected:
  ~LazyRows() = default;
  bool lazy_ = false;
};

// Replaces parameters' gradients and puts the originals back when it goes out
// of scope (also when the step between throws).
class GradSwap {
 public:
  GradSwap() = default;
  GradSwap(const GradSwap&) = delete;
  GradSwap& operator=(const GradSwap&) = delete;
  ~GradSwap();
  void replace(at::Tensor& p, at::Tensor grad);

 private:
  std::vector<std::pair<at::Tensor, at::Tensor>> saved_;  // parameter, its own gradient
};

}  // namespace autoglm::trainer
