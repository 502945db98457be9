#include "trainer/checkpoint/param_state.h"

#include <spdlog/fmt/fmt.h>
#include <torch/optim/adagrad.h>
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

at::Tensor tensorOf(const Moments& m, const std::string& name, const char* optimizer) {
  for (const auto& [n, t] : m.tensors) {
    if (n == name) return t;
  }
  std::vector<std::string> has;
  for (const auto& [n, t] : m.tensors) has.push_back(n);
  throw CheckpointError(fmt::format("checkpoint: {} needs the optimizer state '{}', the checkpoint has [{}] (saved "
                                    "with another train.optimizer?)", optimizer, name, fmt::join(has, ", ")));
}

template <class S>
std::unique_ptr<torch::optim::OptimizerParamState> adamStateFrom(const Moments& m) {
  auto s = std::make_unique<S>();
  s->step(m.step);
  s->exp_avg(tensorOf(m, "exp_avg", "Adam and AdamW"));
  s->exp_avg_sq(tensorOf(m, "exp_avg_sq", "Adam and AdamW"));
  for (const auto& [name, t] : m.tensors) {
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
  if (const auto* s = dynamic_cast<const torch::optim::AdagradParamState*>(it->second.get())) {
    return Moments{s->step(), {{"sum", s->sum()}}};
  }
  throw CheckpointError("checkpoint: the optimizer's state is neither Adam's, AdamW's nor Adagrad's");
}

void setMoments(torch::optim::Optimizer& opt, const at::Tensor& p, const Moments& m) {
  std::unique_ptr<torch::optim::OptimizerParamState> state;
  if (dynamic_cast<torch::optim::Adagrad*>(&opt) != nullptr) {
    auto s = std::make_unique<torch::optim::AdagradParamState>();
    s->step(m.step);
    s->sum(tensorOf(m, "sum", "Adagrad"));
    state = std::move(s);
  } else if (dynamic_cast<torch::optim::AdamW*>(&opt) != nullptr) {
    state = adamStateFrom<torch::optim::AdamWParamState>(m);
  } else {
    state = adamStateFrom<torch::optim::AdamParamState>(m);
  }
  opt.state()[stateKey(p)] = std::move(state);
}

void checkRestorable(torch::optim::Optimizer& opt, const std::string& where) {
  if (dynamic_cast<torch::optim::AdamW*>(&opt) == nullptr && dynamic_cast<torch::optim::Adam*>(&opt) == nullptr &&
      dynamic_cast<torch::optim::Adagrad*>(&opt) == nullptr) {
    throw CheckpointError(where + ": only Adam, AdamW and Adagrad state can be restored");
  }
}

}  // namespace autoglm::trainer
