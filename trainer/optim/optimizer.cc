#include "trainer/optim/optimizer.h"

#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <c10/util/string_utils.h>
#include <torch/optim/adagrad.h>

#include <cmath>
#include <string>

#include "core/error.h"

namespace autoglm::trainer {
namespace {

struct AdamStep {
  float lr, beta1, beta2, eps, weight_decay;
  bool decoupled;  // AdamW: p *= 1 - lr*wd; Adam: g += wd*p
  double bias_correction1, bias_correction2;
  bool frozen;  // v stays (bias_correction2 is then the freeze step's)
};

bool fusable(const at::Tensor& p, const at::Tensor& g) {
  return p.device().is_cpu() && p.scalar_type() == at::kFloat && g.scalar_type() == at::kFloat &&
         p.is_contiguous() && g.is_contiguous() && !g.is_sparse();
}

void fusedUpdate(at::Tensor& p, const at::Tensor& g, at::Tensor& m, at::Tensor& v, const AdamStep& s) {
  float* P = p.data_ptr<float>();
  const float* G = g.data_ptr<float>();
  float* M = m.data_ptr<float>();
  float* V = v.data_ptr<float>();
  const float decay = 1.0f - s.lr * s.weight_decay;
  const float one_m_b1 = 1.0f - s.beta1, one_m_b2 = 1.0f - s.beta2;
  const float bc2 = static_cast<float>(s.bias_correction2);
  const float inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(s.bias_correction2));
  const float step_size = static_cast<float>(s.lr / s.bias_correction1);
  const bool decoupled = s.decoupled;
  const float wd = s.weight_decay;
  at::parallel_for(0, p.numel(), 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float grad = G[i];
      float param = P[i];
      if (decoupled) {
        param *= decay;
      } else {
        grad += wd * param;
      }
      const float mi = M[i] * s.beta1 + grad * one_m_b1;
      float vi = V[i];
      if (!s.frozen) {
        vi = vi * s.beta2 + grad * grad * one_m_b2;
        V[i] = vi;
      } else if (vi == 0.0f && grad != 0.0f) {
        vi = grad * grad * bc2;  // sqrt(vi / bc2) = |g|: the first step is about lr
        V[i] = vi;
      }
      M[i] = mi;
      const float denom = std::sqrt(vi) * inv_sqrt_bc2 + s.eps;
      P[i] = param - step_size * (mi / denom);
    }
  });
}

template <typename Options, typename State>
bool fusedStep(std::vector<torch::optim::OptimizerParamGroup>& groups,
               ska::flat_hash_map<std::string, std::unique_ptr<torch::optim::OptimizerParamState>>& state,
               bool decoupled, int64_t freeze_after) {
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
        return decline("a parameter is not a dense contiguous float32 CPU tensor");
      }
    }
  }
  at::NoGradGuard no_grad;
  for (auto& group : groups) {
    auto& o = static_cast<Options&>(group.options());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      const std::string key = c10::guts::to_string(p.unsafeGetTensorImpl());
      auto it = state.find(key);
      if (it == state.end()) {
        auto st = std::make_unique<State>();
        st->step(0);
        st->exp_avg(at::zeros_like(p, at::MemoryFormat::Contiguous));
        st->exp_avg_sq(at::zeros_like(p, at::MemoryFormat::Contiguous));
        it = state.emplace(key, std::move(st)).first;
      }
      auto& st = static_cast<State&>(*it->second);
      st.step(st.step() + 1);
      const double b1 = std::get<0>(o.betas()), b2 = std::get<1>(o.betas());
      const bool frozen = freeze_after > 0 && st.step() > freeze_after;
      const int64_t v_step = frozen ? freeze_after : st.step();
      AdamStep s{static_cast<float>(o.lr()), static_cast<float>(b1), static_cast<float>(b2),
                 static_cast<float>(o.eps()), static_cast<float>(o.weight_decay()), decoupled,
                 1.0 - std::pow(b1, static_cast<double>(st.step())),
                 1.0 - std::pow(b2, static_cast<double>(v_step)), frozen};
      at::Tensor param = p;
      fusedUpdate(param, p.grad(), st.exp_avg(), st.exp_avg_sq(), s);
    }
  }
  return true;
}

// Runs the closure (if any), then the fused update, or the base optimizer's own
// step when fusedStep declines; returns the closure's loss either way.
template <typename Options, typename State, typename BaseStep>
torch::Tensor stepWith(std::vector<torch::optim::OptimizerParamGroup>& groups,
                       ska::flat_hash_map<std::string, std::unique_ptr<torch::optim::OptimizerParamState>>& state,
                       torch::optim::Optimizer::LossClosure closure, bool decoupled, int64_t freeze_after,
                       BaseStep base_step) {
  torch::Tensor loss;
  if (closure != nullptr) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  if (!fusedStep<Options, State>(groups, state, decoupled, freeze_after)) base_step();
  return loss;
}

}  // namespace

torch::Tensor FusedAdamW::step(LossClosure closure) {
  return stepWith<torch::optim::AdamWOptions, torch::optim::AdamWParamState>(
      param_groups_, state_, std::move(closure), /*decoupled=*/true, freeze_after_, [this] { torch::optim::AdamW::step(nullptr); });
}

torch::Tensor FusedAdam::step(LossClosure closure) {
  return stepWith<torch::optim::AdamOptions, torch::optim::AdamParamState>(
      param_groups_, state_, std::move(closure), /*decoupled=*/false, freeze_after_, [this] { torch::optim::Adam::step(nullptr); });
}

std::unique_ptr<torch::optim::Optimizer> makeOptimizer(const TrainConfig& t, std::vector<at::Tensor> params) {
  switch (t.optimizer) {
    case OptimizerKind::kAdam: {
      auto o = torch::optim::AdamOptions(t.lr).weight_decay(t.weight_decay);
      if (t.fused_optimizer) return std::make_unique<FusedAdam>(std::move(params), o);
      return std::make_unique<torch::optim::Adam>(std::move(params), o);
    }
    case OptimizerKind::kAdagrad:
      return std::make_unique<torch::optim::Adagrad>(
          std::move(params), torch::optim::AdagradOptions(t.lr).weight_decay(t.weight_decay));
    case OptimizerKind::kAdamW: break;
  }
  auto o = torch::optim::AdamWOptions(t.lr).weight_decay(t.weight_decay);
  if (t.fused_optimizer) return std::make_unique<FusedAdamW>(std::move(params), o);
  return std::make_unique<torch::optim::AdamW>(std::move(params), o);
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
