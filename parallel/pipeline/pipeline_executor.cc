#include "parallel/pipeline/pipeline_executor.h"

#include <torch/csrc/autograd/autograd.h>

#include <chrono>

#include "core/error.h"

namespace autoglm::parallel::pipeline {


using Clock = std::chrono::steady_clock;

PipelineExecutor::PipelineExecutor(core::model::GraphClassifier model, StageLink& link, ScheduleKind kind)
    : model_(std::move(model)), link_(link), kind_(kind) {}

const Table& PipelineExecutor::tableFor(int micro) {
  auto it = tables_.find(micro);
  if (it == tables_.end()) {
    Table t = buildSchedule(kind_, link_.group().size(), micro);
    checkSchedule(t, splitsBackward(kind_));
    it = tables_.emplace(micro, std::move(t)).first;
  }
  return it->second;
}

// What one step keeps per micro-batch.
struct PipelineExecutor::StepState {
  const std::vector<core::graph::GraphBatch>& micro;
  const LossFn& loss_fn;
  data_parallel::GradientReducer* reducer;
  int64_t step;
  RunObserver* observer;
  std::vector<at::Tensor> in, out, grad, in_grad, params;
  size_t last_grad = 0;  // the action whose parameter gradients end the step (synchronises the reducer)
  double loss_sum = 0.0;
};

double PipelineExecutor::run(const std::vector<core::graph::GraphBatch>& micro, const LossFn& loss_fn,
                             data_parallel::GradientReducer* reducer, int64_t step, RunObserver* observer) {
  const auto t_step = Clock::now();
  busy_s_ = 0.0;
  const Table& table = tableFor(static_cast<int>(micro.size()));
  const int stage = link_.group().rank();
  const auto& row = table[static_cast<size_t>(stage)];
  const bool split = splitsBackward(kind_);
  StepState st{micro, loss_fn, reducer, step, observer, {}, {}, {}, {}, {}};
  const size_t n = micro.size();
  st.in.resize(n);
  st.out.resize(n);
  st.grad.resize(n);
  st.in_grad.resize(n);
  for (size_t i = 0; i < row.size(); ++i) {
    if (row[i].kind == (split ? ActionKind::kWeight : ActionKind::kBackward)) st.last_grad = i;
  }
  for (const auto& p : model_->parameters()) {
    if (p.requires_grad()) st.params.push_back(p);
  }
  for (size_t i = 0; i < row.size(); ++i) {
    const auto t0 = Clock::now();
    if (runActionOrExplain(table, stage, i, st)) busy_s_ += std::chrono::duration<double>(Clock::now() - t0).count();
  }
  link_.finish();
  step_s_ = std::chrono::duration<double>(Clock::now() - t_step).count();
  return st.loss_sum;
}

// A failing action: its error, then the schedule with the action marked.
bool PipelineExecutor::runActionOrExplain(const Table& table, int stage, size_t index, StepState& st) {
  auto explain = [&](const char* what) {
    return std::string(what) + "\n  in pipeline step " + std::to_string(st.step) + ", stage " + std::to_string(stage) +
           ", action " + std::to_string(index) + " of the " + core::enumName(kind_) + " schedule:\n" +
           printSchedule(table, stage, index);
  };
  try {
    return runAction(table[static_cast<size_t>(stage)][index], index, st);
  } catch (const CommError& e) {
    throw CommError(explain(e.what()));
  } catch (const Error& e) {
    throw Error(explain(e.what()));
  } catch (const c10::Error& e) {
    throw Error(explain(e.what_without_backtrace()));
  }
}

bool PipelineExecutor::runAction(const Action& a, size_t index, StepState& st) {
  const auto k = static_cast<size_t>(a.micro);
  const bool split = splitsBackward(kind_);
  auto phase = [&](Phase p) {
    if (st.observer != nullptr) st.observer->onPhase(p, st.step);
  };
  // On the last stage out[k] is the micro-batch's loss, elsewhere its activation.
  const at::Tensor grad_out = link_.last() ? at::Tensor() : st.grad[k];
  switch (a.kind) {
    case ActionKind::kRecvAct:
      st.in[k] = link_.recvActivation(st.micro[k]).requires_grad_();
      return false;
    case ActionKind::kSendAct:
      link_.sendActivation(st.out[k]);
      return false;
    case ActionKind::kRecvGrad:
      st.grad[k] = link_.recvGrad(st.micro[k]);
      return false;
    case ActionKind::kSendGrad:
      link_.sendGrad(st.in_grad[k]);
      st.in_grad[k] = at::Tensor();
      return false;
    case ActionKind::kForward:
      phase(Phase::kForward);
      st.out[k] = model_->forward(link_.first() ? at::Tensor() : st.in[k], st.micro[k]);
      if (link_.last()) {
        st.out[k] = st.loss_fn(st.out[k], st.micro[k]);
        st.loss_sum += st.out[k].item<double>();
      }
      return true;
    case ActionKind::kBackward:
      phase(Phase::kBackward);
      if (!split) {
        if (st.reducer != nullptr) st.reducer->beginBackward(/*sync=*/index == st.last_grad, st.step);
        st.out[k].backward(grad_out);
        if (!link_.first()) st.in_grad[k] = st.in[k].grad();
        st.out[k] = at::Tensor();
      } else if (!link_.first()) {
        // Input gradient only; the weight pass (W) follows later.
        st.in_grad[k] = torch::autograd::grad({st.out[k]}, {st.in[k]}, {grad_out}, /*retain_graph=*/true)[0];
      }
      return true;
    case ActionKind::kWeight:
      phase(Phase::kBackward);
      if (st.reducer != nullptr) st.reducer->beginBackward(/*sync=*/index == st.last_grad, st.step);
      torch::autograd::backward({st.out[k]}, {grad_out}, /*retain_graph=*/false, /*create_graph=*/false, st.params);
      st.out[k] = at::Tensor();
      return true;
  }
  return false;
}

}  // namespace autoglm::parallel::pipeline
