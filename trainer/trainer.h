#pragma once
// The epoch loop of graph classification, on one process or on a data-parallel
// group (one Trainer per rank, each given the group's communicator).
//
// Each epoch: this rank's share of every global batch (DistributedSampler),
// one StepRunner step per train.grad_accumulation batches, then evaluation on
// the validation and test splits (Evaluator), model selection and early
// stopping on validation accuracy, and a checkpoint. The best-validation model
// is kept as checkpoints/best and its test accuracy is the run's result. What a
// resumed run continues from is the TrainState plus the archives and rank
// states of the checkpoint.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "core/graph/prepared_data.h"
#include "core/model/graph_classifier.h"
#include "trainer/checkpoint.h"
#include "trainer/sharded_checkpoint.h"
#include "trainer/evaluator.h"
#include "trainer/experiment_config.h"
#include "trainer/metrics.h"
#include "trainer/progress.h"
#include "trainer/run_observer.h"
#include "trainer/step_runner.h"
#include "trainer/stage_link.h"
#include "trainer/train_groups.h"
#include "trainer/train_state.h"

namespace autoglm::trainer {

struct FitResult {
  double test_accuracy = 0.0;      // of the best-validation model
  double best_val_accuracy = 0.0;
  int64_t best_epoch = -1;         // 1-based
  int64_t epochs_run = 0;
  int64_t steps = 0;
  double seconds = 0.0;
  bool stopped_early = false;
  bool interrupted = false;        // stopped on request; a checkpoint was saved
};

enum class EvalSplit { kValidation, kTest };

class Trainer {
 public:
  // dp: the data-parallel group (all ranks construct their Trainer together);
  // null or a group of one trains on this process alone.
  Trainer(const ExperimentConfig& cfg, const core::graph::PreparedData& data,
          std::shared_ptr<comm::Communicator> dp = nullptr);
  // Any layout dp x tp x pp (trainer/train_groups.h).
  Trainer(const ExperimentConfig& cfg, const core::graph::PreparedData& data, TrainGroups groups);
  ~Trainer();

  // Trains from scratch, or when resume from the newest checkpoint of the run
  // that verifies (skipping, with a warning, newer ones that do not). A fresh
  // run into a run.out_dir that holds checkpoints throws ConfigError unless
  // overwrite (then they are removed first).
  FitResult fit(bool resume, bool overwrite = false);
  // One step outside the epoch loop (benchmarks): see StepRunner::run.
  double trainStep(const std::vector<std::vector<int64_t>>& micro_batches, int64_t global_graphs);
  // Restores the newest checkpoint of the run that verifies (what fit(true)
  // starts with), at this trainer's layout. Collective.
  void resumeFromNewest();
  // Loss and accuracy on the validation or test split. Collective.
  EvalResult evaluate(EvalSplit split);

  // Asked between steps; when it returns true on any rank, training stops at
  // that step boundary and saves a checkpoint that --resume continues from.
  void setStopRequest(std::function<bool()> requested) { stop_request_ = std::move(requested); }
  // Told the phase of the run and the end of each step (null: nobody).
  void setObserver(RunObserver* observer);

  core::model::GraphClassifier& model() { return model_; }
  StepRunner& steps() { return *steps_; }
  // This rank's share of each global batch of `epoch` (the sampler's), and the
  // global batches' sizes.
  std::vector<std::vector<int64_t>> epochBatches(int64_t epoch, std::vector<int64_t>* global_sizes = nullptr) const;
  const std::vector<int64_t>& trainIndices() const { return train_idx_; }
  const std::vector<int64_t>& validationIndices() const { return val_idx_; }
  int64_t globalStep() const { return state_.step; }

 private:
  enum class EpochEnd { kDone, kStopped, kInterrupted };
  struct EpochSummary {
    int64_t graphs = 0;  // on all ranks
    double loss_sum = 0.0;
    int64_t loss_steps = 0;
    double seconds = 0.0;
    std::optional<Progress> progress;  // finished when the epoch line is logged
  };

  bool stopRequested() const;
  EpochEnd runEpoch(EpochSummary* summary);
  // Evaluation, selection, checkpoints. Returns true when early stopping ends the run.
  bool finishEpoch(EpochSummary& summary, FitResult* result);
  void saveCheckpoint(const std::string& name, const TrainState& state);
  CheckpointLayout layout() const;
  void restore(const CheckpointInfo& ckpt);
  // Every rank confirms it restored the same checkpoint.
  void confirmSameCheckpoint(const CheckpointInfo& ckpt);
  void refuseUsedOutDir(bool overwrite);
  double elapsedSeconds() const;

  ExperimentConfig cfg_;
  const core::graph::PreparedData& data_;
  TrainGroups groups_;
  std::shared_ptr<comm::Communicator> dp_;
  int rank_ = 0;   // in the data-parallel group (the sampler's rank)
  int world_ = 1;  // of the data-parallel group
  bool root_ = true;  // world rank 0: logs, metrics, checkpoint metadata
  std::unique_ptr<StageLink> link_;  // pipeline stages only
  std::vector<int64_t> train_idx_, val_idx_, test_idx_;
  core::model::GraphClassifier model_{nullptr};
  std::unique_ptr<StepRunner> steps_;
  std::unique_ptr<Evaluator> evaluator_;
  CheckpointManager ckpt_;
  MetricsWriter metrics_;
  std::function<bool()> stop_request_;
  RunObserver* observer_ = nullptr;
  void phase(Phase p) const {
    if (observer_ != nullptr) observer_->onPhase(p, state_.step);
  }
  TrainState state_;
  int64_t last_saved_step_ = -1;  // step of the newest step-* checkpoint written by this process
  std::chrono::steady_clock::time_point t_start_;
};

}  // namespace autoglm::trainer
