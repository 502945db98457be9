#include "trainer/optim/adagrad.h"

#include <ATen/Functions.h>

#include <vector>

namespace autoglm::trainer {
namespace {

torch::optim::AdagradParamState& stateOf(torch::optim::Optimizer& opt, const at::Tensor& p,
                                         const torch::optim::AdagradOptions& o) {
  auto& slot = opt.state()[c10::guts::to_string(p.unsafeGetTensorImpl())];
  if (slot == nullptr) {  // the constructor makes every state; a parameter added later has none
    auto st = std::make_unique<torch::optim::AdagradParamState>();
    st->sum(at::full_like(p, o.initial_accumulator_value(), at::MemoryFormat::Preserve));
    slot = std::move(st);
  }
  return static_cast<torch::optim::AdagradParamState&>(*slot);
}

// The touched rows by the dense step's own ops on them (g += wd*p first when
// `decay`): sum += g*g; p += -clr * g / (sqrt(sum) + eps). The same kernels
// round the same way (they fuse the multiply-add where the CPU can), and an
// untouched row's dense step (g = 0) leaves it and its sum as they are.
void adagradRows(at::Tensor& p, const RowGrad& g, at::Tensor& sum, const torch::optim::AdagradOptions& o,
                 int64_t step, bool decay) {
  std::vector<int64_t> shape = p.sizes().vec();
  shape[0] = g.rows.numel();
  at::Tensor rows_p = p.index_select(0, g.rows), rows_sum = sum.index_select(0, g.rows);
  const at::Tensor values = g.values.view(shape);
  const at::Tensor grad = decay ? values.add(rows_p, o.weight_decay()) : values;
  const double clr = o.lr() / (1.0 + static_cast<double>(step - 1) * o.lr_decay());
  rows_sum.addcmul_(grad, grad, 1.0);
  rows_p.addcdiv_(grad, rows_sum.sqrt().add_(o.eps()), -clr);
  p.index_copy_(0, g.rows, rows_p);
  sum.index_copy_(0, g.rows, rows_sum);
}

}  // namespace

torch::Tensor LibTorchAdagrad::step(LossClosure closure) {
  torch::Tensor loss;
  if (closure != nullptr) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  at::NoGradGuard no_grad;
  GradSwap swap;
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const torch::optim::AdagradOptions&>(group.options());
    for (auto& p : group.params()) {
      const at::Tensor g = p.grad();
      if (!g.defined() || !g.is_sparse()) continue;
      const bool decay = o.weight_decay() != 0;
      if (!lazy_ && decay) {  // decay reaches every row
        swap.replace(p, densified(g));
      } else if (g.sizes() == p.sizes() && p.dim() >= 1) {
        auto& st = stateOf(*this, p, o);
        st.step(st.step() + 1);
        adagradRows(p, rowsOf(g, p), st.sum(), o, st.step(), decay);
        swap.replace(p, at::Tensor());  // stepped here; LibTorch's step skips it
      }  // else LibTorch's step, which rejects a sparse gradient of another shape
    }
  }
  torch::optim::Adagrad::step(nullptr);
  return loss;
}

}  // namespace autoglm::trainer
