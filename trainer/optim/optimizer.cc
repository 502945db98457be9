#include "trainer/optim/optimizer.h"

#include <ATen/Functions.h>
#include <c10/util/string_utils.h>

#include <cmath>
#include <string>

#include "core/error.h"
#include "trainer/optim/adam_kernel.h"

namespace autoglm::trainer {
namespace {

using StateMap = ska::flat_hash_map<std::string, std::unique_ptr<torch::optim::OptimizerParamState>>;

bool fusable(const at::Tensor& p, const at::Tensor& g) {
  if (g.is_sparse()) return rowKernelTakes(p, g);
  return p.device().is_cpu() && p.scalar_type() == at::kFloat && g.scalar_type() == at::kFloat &&
         p.is_contiguous() && g.is_contiguous();
}

template <typename State>
State& adamStateOf(StateMap& state, const at::Tensor& p) {
  auto& slot = state[c10::guts::to_string(p.unsafeGetTensorImpl())];
  if (slot == nullptr) {
    auto st = std::make_unique<State>();
    st->step(0);
    st->exp_avg(at::zeros_like(p, at::MemoryFormat::Contiguous));
    st->exp_avg_sq(at::zeros_like(p, at::MemoryFormat::Contiguous));
    slot = std::move(st);
  }
  return static_cast<State&>(*slot);
}

// One parameter's fused step (its state counts it): dense, or row-sparse
// (exact or lazy, optimizer.h).
template <typename Options, typename State>
void fusedParamStep(at::Tensor& p, const Options& o, State& st, bool decoupled, int64_t freeze_after, bool lazy) {
  st.step(st.step() + 1);
  const double b1 = std::get<0>(o.betas()), b2 = std::get<1>(o.betas());
  const bool frozen = freeze_after > 0 && st.step() > freeze_after;
  const int64_t v_step = frozen ? freeze_after : st.step();
  const AdamStep s{static_cast<float>(o.lr()), static_cast<float>(b1), static_cast<float>(b2),
                   static_cast<float>(o.eps()), static_cast<float>(o.weight_decay()), decoupled,
                   1.0 - std::pow(b1, static_cast<double>(st.step())),
                   1.0 - std::pow(b2, static_cast<double>(v_step)), frozen};
  const at::Tensor& g = p.grad();
  if (!g.is_sparse()) {
    adamDense(p, g, st.exp_avg(), st.exp_avg_sq(), s);
  } else if (lazy) {
    adamRowsLazy(p, rowsOf(g, p), st.exp_avg(), st.exp_avg_sq(), s);
  } else {
    adamRowsExact(p, rowsOf(g, p), st.exp_avg(), st.exp_avg_sq(), s);
  }
}

template <typename Options, typename State>
bool fusedStep(std::vector<torch::optim::OptimizerParamGroup>& groups, StateMap& state, bool decoupled,
               int64_t freeze_after, bool lazy) {
  // Fall back when any parameter or option needs the general path; a frozen
  // second moment has none.
  const auto decline = [&](const char* why) {
    if (freeze_after > 0) {
      throw ConfigError(std::string("the second-moment freeze (parallel.compression.freeze_variance) needs the fused "
                                    "optimizer, and ") +
                        why);
    }
    return false;
  };
  for (auto& group : groups) {
    auto& o = static_cast<Options&>(group.options());
    if (o.amsgrad()) return decline("amsgrad is not fused");
    for (auto& p : group.params()) {
      if (p.grad().defined() && !fusable(p, p.grad())) {
        return decline("a parameter is not a contiguous float32 CPU tensor with a float32 gradient of its shape");
      }
    }
  }
  at::NoGradGuard no_grad;
  for (auto& group : groups) {
    const auto& o = static_cast<const Options&>(group.options());
    for (auto& p : group.params()) {
      if (p.grad().defined()) fusedParamStep(p, o, adamStateOf<State>(state, p), decoupled, freeze_after, lazy);
    }
  }
  return true;
}

// The base optimizer's step, given what it takes: sparse gradients densified,
// or (lazy) stepped here by the row kernel and hidden from it.
template <typename Options, typename State, typename BaseStep>
void baseStep(std::vector<torch::optim::OptimizerParamGroup>& groups, StateMap& state, bool decoupled, bool lazy,
              BaseStep base_step) {
  at::NoGradGuard no_grad;
  GradSwap swap;
  for (auto& group : groups) {
    const auto& o = static_cast<const Options&>(group.options());
    for (auto& p : group.params()) {
      const at::Tensor g = p.grad();
      if (!g.defined() || !g.is_sparse()) continue;
      if (!lazy) {
        swap.replace(p, densified(g));
        continue;
      }
      if (o.amsgrad() || !rowKernelTakes(p, g)) {
        throw Error("a lazy sparse update (train.embedding_update: lazy) needs a contiguous float32 CPU parameter, "
                    "a float32 sparse gradient of its shape, and no amsgrad");
      }
      fusedParamStep(p, o, adamStateOf<State>(state, p), decoupled, /*freeze_after=*/0, /*lazy=*/true);
      swap.replace(p, at::Tensor());  // stepped here; the base step skips it
    }
  }
  base_step();
}

// Runs the closure (if any), then the fused update, or the base optimizer's own
// step when it is not fused or fusedStep declines; returns the closure's loss.
template <typename Options, typename State, typename BaseStep>
torch::Tensor stepWith(std::vector<torch::optim::OptimizerParamGroup>& groups, StateMap& state,
                       torch::optim::Optimizer::LossClosure closure, bool fused, bool decoupled, int64_t freeze_after,
                       bool lazy, BaseStep base_step) {
  torch::Tensor loss;
  if (closure != nullptr) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  if (!fused || !fusedStep<Options, State>(groups, state, decoupled, freeze_after, lazy)) {
    baseStep<Options, State>(groups, state, decoupled, lazy, base_step);
  }
  return loss;
}

}  // namespace

torch::Tensor FusedAdamW::step(LossClosure closure) {
  return stepWith<torch::optim::AdamWOptions, torch::optim::AdamWParamState>(
      param_groups_, state_, std::move(closure), /*fused=*/true, /*decoupled=*/true, freeze_after_, lazy_,
      [this] { torch::optim::AdamW::step(nullptr); });
}

torch::Tensor FusedAdam::step(LossClosure closure) {
  return stepWith<torch::optim::AdamOptions, torch::optim::AdamParamState>(
      param_groups_, state_, std::move(closure), /*fused=*/true, /*decoupled=*/false, freeze_after_, lazy_,
      [this] { torch::optim::Adam::step(nullptr); });
}

torch::Tensor LibTorchAdamW::step(LossClosure closure) {
  return stepWith<torch::optim::AdamWOptions, torch::optim::AdamWParamState>(
      param_groups_, state_, std::move(closure), /*fused=*/false, /*decoupled=*/true, /*freeze_after=*/0, lazy_,
      [this] { torch::optim::AdamW::step(nullptr); });
}

torch::Tensor LibTorchAdam::step(LossClosure closure) {
  return stepWith<torch::optim::AdamOptions, torch::optim::AdamParamState>(
      param_groups_, state_, std::move(closure), /*fused=*/false, /*decoupled=*/false, /*freeze_after=*/0, lazy_,
      [this] { torch::optim::Adam::step(nullptr); });
}

namespace {

template <typename Opt, typename Options>
std::unique_ptr<torch::optim::Optimizer> withLazyRows(bool lazy, std::vector<at::Tensor> params, const Options& o) {
  auto opt = std::make_unique<Opt>(std::move(params), o);
  opt->setLazyRows(lazy);
  return opt;
}

}  // namespace

std::unique_ptr<torch::optim::Optimizer> makeOptimizer(const TrainConfig& t, std::vector<at::Tensor> params) {
  const bool lazy = t.embedding_update == EmbeddingUpdate::kLazy;
  switch (t.optimizer) {
    case OptimizerKind::kAdam: {
      auto o = torch::optim::AdamOptions(t.lr).weight_decay(t.weight_decay);
      if (t.fused_optimizer) return withLazyRows<FusedAdam>(lazy, std::move(params), o);
      return withLazyRows<LibTorchAdam>(lazy, std::move(params), o);
    }
    case OptimizerKind::kAdagrad:
      return withLazyRows<LibTorchAdagrad>(lazy, std::move(params),
                                     torch::optim::AdagradOptions(t.lr).weight_decay(t.weight_decay));
    case OptimizerKind::kAdamW: break;
  }
  auto o = torch::optim::AdamWOptions(t.lr).weight_decay(t.weight_decay);
  if (t.fused_optimizer) return withLazyRows<FusedAdamW>(lazy, std::move(params), o);
  return withLazyRows<LibTorchAdamW>(lazy, std::move(params), o);
}

at::Tensor secondMoment(const torch::optim::Optimizer& opt, const at::Tensor& p) {
  const auto& state = opt.state();
  const auto it = state.find(c10::guts::to_string(p.unsafeGetTensorImpl()));
  if (it == state.end()) return {};
  if (const auto* adamw = dynamic_cast<const torch::optim::AdamWParamState*>(it->second.get())) {
    return adamw->exp_avg_sq();
  }
  if (const auto* adam = dynamic_cast<const torch::optim::AdamParamState*>(it->second.get())) {
    return adam->exp_avg_sq();
  }
  return {};
}

void freezeSecondMomentAfter(torch::optim::Optimizer& opt, int64_t step) {
  auto* fused = dynamic_cast<SecondMomentFreeze*>(&opt);
  if (fused == nullptr) {
    throw ConfigError(
        "parallel.compression.freeze_variance needs train.fused_optimizer: true (LibTorch's Adam cannot freeze its "
        "second moment)");
  }
  fused->freezeSecondMomentAfter(step);
}

void setLearningRate(torch::optim::Optimizer& opt, double lr) {
  for (auto& group : opt.param_groups()) group.options().set_lr(lr);
}

}  // namespace autoglm::trainer
