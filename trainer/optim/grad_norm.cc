#include "trainer/optim/grad_norm.h"

#include <ATen/Functions.h>

#include <cmath>
#include <limits>

namespace autoglm::trainer {

at::Tensor gradValues(const at::Tensor& g) { return g.is_sparse() ? g.coalesce().values() : g; }

double layoutGradNorm(core::model::GraphClassifierImpl& model, comm::Communicator* tp, comm::Communicator* pp,
                      bool mark_nonfinite) {
  const bool tp_root = tp == nullptr || tp->rank() == 0;
  double sum = 0.0;
  for (const auto& name : model.partNames()) {
    auto part = model.part(name);
    if (!part) continue;
    for (const auto& item : part->named_parameters()) {
      const at::Tensor& g = item.value().grad();
      if (!g.defined()) continue;
      if (part->shardOf(item.key()) || tp_root) sum += gradValues(g).to(at::kDouble).pow(2).sum().item<double>();
    }
  }
  if (mark_nonfinite) sum = std::numeric_limits<double>::quiet_NaN();
  at::Tensor t = at::full({1}, static_cast<float>(sum), at::TensorOptions().dtype(at::kFloat));
  if (tp != nullptr && tp->size() > 1) tp->allreduce(t, {comm::ReduceOp::kSum})->wait();
  if (pp != nullptr && pp->size() > 1) pp->allreduce(t, {comm::ReduceOp::kSum})->wait();
  return std::sqrt(static_cast<double>(t.item<float>()));
}

void clipToNorm(core::model::GraphClassifierImpl& model, double norm, double max_norm) {
  const double coef = max_norm / (norm + 1e-6);
  if (coef >= 1.0) return;
  at::NoGradGuard no_grad;
  for (auto& p : model.parameters()) {
    if (p.grad().defined()) p.mutable_grad().mul_(coef);
  }
}

}  // namespace autoglm::trainer
