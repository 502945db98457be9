#include "trainer/checkpoint/param_state.h"

#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>

#include <memory>

#include "core/error.h"

namespace autoglm::trainer {
namespace {

std::string stateKey(const at::Tensor& p) { return c10::guts::to_string(p.unsafeGetTensorImpl()); }

template <class S>
Moments momentsFrom(const S& s) {
  Moments m{s.step(), {{"exp_avg", s.exp_avg()}, {"exp_avg_sq", s.exp_avg_sq()}}};
  if (s.max_exp_avg_sq().defined()) m.tensors.emplace_back("max_exp_avg_sq", s.max_exp_avg_sq());
  return m;
}

template <class S>
std::unique_ptr<torch::optim::OptimizerParamState> stateFrom(const Moments& m) {
  auto s = std::make_unique<S>();
  s->step(m.step);
  for (const auto& [name, t] : m.tensors) {
    if (name == "exp_avg") s->exp_avg(t);
    if (name == "exp_avg_sq") s->exp_avg_sq(t);
    if (name == "max_exp_avg_sq") s->max_exp_avg_sq(t);
  }
  return s;
}

}  // namespace

std::optional<core::model::ParamShard> shardOfParam(const core::model::GraphClassifierImpl& model,
                                                    const std::string& name) {
  const auto dot = name.find('.');
  if (dot == std::string::npos) return std::nullopt;
  return model.part(name.substr(0, dot))->shardOf(name.substr(dot + 1));
}

std::optional<Moments> momentsOf(torch::optim::Optimizer& opt, const at::Tensor& p) {
  auto it = opt.state().find(stateKey(p));
  if (it == opt.state().end()) return std::nullopt;  // not stepped yet
  if (const auto* s = dynamic_cast<const torch::optim::AdamWParamState*>(it->second.get())) return momentsFrom(*s);
  if (const auto* s = dynamic_cast<const torch::optim::AdamParamState*>(it->second.get())) return momentsFrom(*s);
  throw CheckpointError("checkpoint: the optimizer's state is neither Adam's nor AdamW's");
}

void setMoments(torch::optim::Optimizer& opt, const at::Tensor& p, const Moments& m) {
  const bool adamw = dynamic_cast<torch::optim::AdamW*>(&opt) != nullptr;
  opt.state()[stateKey(p)] = adamw ? stateFrom<torch::optim::AdamWParamState>(m)
                                   : stateFrom<torch::optim::AdamParamState>(m);
}

void checkRestorable(torch::optim::Optimizer& opt, const std::string& where) {
  if (dynamic_cast<torch::optim::AdamW*>(&opt) == nullptr && dynamic_cast<torch::optim::Adam*>(&opt) == nullptr) {
    throw CheckpointError(where + ": only Adam and AdamW state can be restored");
  }
}

}  // namespace autoglm::trainer
