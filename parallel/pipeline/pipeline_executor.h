#pragma once
// Runs one optimizer step of a pipeline stage: the stage's row of the schedule
// table (parallel/pipeline/schedule.h) over the step's micro-batches, with the
// sends and receives of StageLink. Backward passes tell the data-parallel
// reducer when they start (the last one of the step synchronises), so each
// stage's replicas reduce their gradients while its last backward runs.

#include <ATen/core/Tensor.h>

#include <functional>
#include <map>
#include <vector>

#include "core/graph/graph_batch.h"
#include "core/model/graph_classifier.h"
#include "parallel/data_parallel/gradient_reducer.h"
#include "parallel/pipeline/schedule.h"
#include "parallel/run_observer.h"
#include "parallel/pipeline/stage_link.h"

namespace autoglm::parallel::pipeline {

class PipelineExecutor {
 public:
  using LossFn = std::function<at::Tensor(const at::Tensor& logits, const core::graph::GraphBatch& g)>;

  PipelineExecutor(core::model::GraphClassifier model, StageLink& link, ScheduleKind kind);

  // Returns the summed loss of the micro-batches on the last stage, 0 elsewhere.
  double run(const std::vector<core::graph::GraphBatch>& micro, const LossFn& loss,
             data_parallel::GradientReducer* reducer, int64_t step, RunObserver* observer);

  // Seconds this stage computed and the step took, in the last run().
  double busySeconds() const { return busy_s_; }
  double stepSeconds() const { return step_s_; }

 private:
  struct StepState;
  const Table& tableFor(int micro);
  // Runs one action; true when it computed (for the stage's busy time).
  bool runAction(const Action& a, size_t index, StepState& st);
  bool runActionOrExplain(const Table& table, int stage, size_t index, StepState& st);

  core::model::GraphClassifier model_;
  StageLink& link_;
  ScheduleKind kind_;
  std::map<int, Table> tables_;  // by micro-batch count, checked once
  double busy_s_ = 0.0, step_s_ = 0.0;
};

}  // namespace autoglm::parallel::pipeline
