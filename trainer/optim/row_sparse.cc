#include "trainer/optim/row_sparse.h"

#include <ATen/Functions.h>
#include <ATen/core/List.h>
#include <fmt/format.h>

#include "core/error.h"

namespace autoglm::trainer {

namespace {

// The row kernels write through these ids: they must lie inside `p`.
RowGrad checked(RowGrad g, const at::Tensor& p) {
  const int64_t n = g.rows.numel();
  if (n > 0) {
    const int64_t first = g.rows[0].item<int64_t>(), last = g.rows[n - 1].item<int64_t>();
    if (first < 0 || last >= p.size(0)) {
      throw Error(fmt::format("a sparse gradient touches rows {}..{} of a parameter with {} rows", first, last,
                              p.size(0)));
    }
  }
  return g;
}

}  // namespace

RowGrad rowsOf(const at::Tensor& grad, const at::Tensor& p) {
  const at::Tensor g = grad.coalesce();
  const int64_t width = p.size(0) == 0 ? 0 : p.numel() / p.size(0);
  const at::Tensor idx = g._indices();
  if (g.sparse_dim() == 1) {
    return checked({idx[0].contiguous(), g._values().contiguous().reshape({idx.size(1), width})}, p);
  }
  // Coalesced indices are sorted, so each row's elements are consecutive.
  const auto [rows, inverse, counts] = at::unique_consecutive(idx[0], /*return_inverse=*/true);
  std::vector<int64_t> shape = p.sizes().vec();
  shape[0] = rows.size(0);
  at::Tensor values = at::zeros(shape, g._values().options());
  c10::List<c10::optional<at::Tensor>> where;
  where.push_back(inverse);
  for (int64_t d = 1; d < g.sparse_dim(); ++d) where.push_back(idx[d]);
  values.index_put_(where, g._values(), /*accumulate=*/true);
  return checked({rows.contiguous(), values.reshape({rows.size(0), width})}, p);
}

at::Tensor densified(const at::Tensor& grad) { return grad.coalesce().to_dense(); }

bool rowKernelTakes(const at::Tensor& p, const at::Tensor& grad) {
  return grad.is_sparse() && grad.scalar_type() == at::kFloat && grad.sizes() == p.sizes() && p.dim() >= 1 &&
         p.device().is_cpu() && p.scalar_type() == at::kFloat && p.is_contiguous();
}

GradSwap::~GradSwap() {
  for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) it->first.mutable_grad() = it->second;
}

void GradSwap::replace(at::Tensor& p, at::Tensor grad) {
  saved_.emplace_back(p, p.grad());
  p.mutable_grad() = std::move(grad);
}

}  // namespace autoglm::trainer
