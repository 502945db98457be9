#pragma once
// One optimisation step of the classifier over this rank's micro-batches:
// collate each, forward, cross-entropy, backward (the GradientReducer averages
// gradients over the data-parallel group while backward runs), clip, set the
// scheduled learning rate, optimizer step.
//
// The loss of a rank's share is its summed loss over the graphs of the whole
// global batch, times the group size (the reducer averages), so any number of
// ranks trains the model one process would train on the combined batches.

#include <torch/optim/optimizer.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "core/graph/graph_store.h"
#include "core/model/graph_classifier.h"
#include "parallel/data_parallel/gradient_reducer.h"
#include "trainer/config/experiment_config.h"
#include "trainer/optim/lr_schedule.h"
#include "parallel/pipeline/pipeline_executor.h"
#include "parallel/run_observer.h"
#include "parallel/pipeline/stage_link.h"
#include "parallel/process_grid.h"

namespace autoglm::trainer {

// Seconds spent in each phase of the steps so far (benchmarks read them).
struct PhaseTimes {
  double collate = 0, forward = 0, backward = 0, sync = 0, optimizer = 0;
};

class StepRunner {
 public:
  // grid.dp(): the data-parallel group (a reducer when it has more than one
  // rank). With tp or pp above 1 the model is this rank's shard; link (pp > 1)
  // connects its stage.
  // steps_per_epoch sizes the learning-rate schedule.
  StepRunner(const ExperimentConfig& cfg, const core::graph::GraphStore& store, core::model::GraphClassifier model,
             parallel::ParallelGrid grid, int64_t steps_per_epoch, parallel::pipeline::StageLink* link = nullptr);
  ~StepRunner();

  // Step `step` (0-based) over micro-batches of graph indices; global_graphs is
  // the number of graphs of the step on all ranks together. Returns this rank's
  // loss. A gradient with a NaN or inf (on any rank) throws Error naming the step
  // and parameter, or with train.nonfinite: skip_step leaves the parameters as
  // they were (skippedSteps() counts those steps). A non-finite loss with finite
  // gradients throws Error too.
  double run(const std::vector<std::vector<int64_t>>& micro_batches, int64_t global_graphs, int64_t step);
  int64_t skippedSteps() const { return skipped_steps_; }
  // Pipeline: seconds this stage computed and the step took (the last step).
  double stageBusySeconds() const { return executor_ ? executor_->busySeconds() : 0.0; }
  double stageStepSeconds() const { return executor_ ? executor_->stepSeconds() : 0.0; }

  torch::optim::Optimizer& optimizer() { return *optimizer_; }
  // Null on one process.
  parallel::data_parallel::GradientReducer* reducer() { return reducer_.get(); }
  const LrSchedule& schedule() const { return schedule_; }
  const PhaseTimes& phaseTimes() const { return times_; }
  // Told the phase of each step (null: nobody).
  void setObserver(parallel::RunObserver* observer) { observer_ = observer; }

 private:
  // Forward and backward of every micro-batch; returns the loss (this stage's).
  double forwardBackward(const std::vector<std::vector<int64_t>>& micro_batches, double scale, int64_t step);
  core::graph::GraphBatch collate(const std::vector<int64_t>& graphs) const;
  // parallel.compression.freeze_variance: checks it and freezes the optimizer's
  // second moment after the compression warm-up (on a data-parallel group).
  void freezeVariance(const parallel::data_parallel::compression::CompressionConfig& c);

  const TrainConfig& train_;
  const parallel::pipeline::PipelineConfig& pipeline_;
  parallel::ParallelGrid grid_;
  std::unique_ptr<parallel::pipeline::PipelineExecutor> executor_;
  const core::graph::GraphStore& store_;
  core::model::GraphClassifier model_;
  std::unique_ptr<parallel::data_parallel::GradientReducer> reducer_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  LrSchedule schedule_;
  PhaseTimes times_;
  std::vector<std::string> param_names_;  // in model->parameters() order
  std::vector<int64_t> row_sparse_;       // parameters with row-sparse gradients (train.embedding_update)
  int64_t skipped_steps_ = 0;
  parallel::RunObserver* observer_ = nullptr;
  void phase(parallel::Phase p, int64_t step) const {
    if (observer_ != nullptr) observer_->onPhase(p, step);
  }

  // The parameter whose gradient is not finite (name, or "" for another rank's),
  // or nothing. Consults the reducer's status on a data-parallel group.
  std::optional<std::string> nonfiniteGradient(const parallel::data_parallel::StepStatus& status) const;
  void coalesceRowSparse();
  // parallel.compression for the buckets, which hold every parameter but the
  // row-sparse tables (topk's ratio rescaled to keep its element count).
  parallel::data_parallel::compression::CompressionConfig denseRestCompression(const ExperimentConfig& cfg) const;
};

}  // namespace autoglm::trainer
