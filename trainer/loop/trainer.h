#pragma once
// The one training loop, for every model family (a Task, trainer/loop/task.h).
//
// Each epoch: the task's plan of this rank's batches, one task step per
// train.grad_accumulation batches, the stop request asked between steps, then
// the task's evaluation, model selection and early stopping (selection.h), and
// a checkpoint where the task keeps them. The best epoch's model is kept by the
// task (checkpoints/best, or in memory) and the run's result is the task's
// test metric for it. What a resumed run continues from is the TrainState plus
// what the task restores of the checkpoint.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "trainer/checkpoint/checkpoint.h"
#include "trainer/config/experiment_config.h"
#include "trainer/loop/task.h"
#include "trainer/loop/train_state.h"
#include "trainer/observe/metrics.h"
#include "trainer/observe/progress.h"
#include "parallel/run_observer.h"

namespace autoglm::trainer {


class Trainer {
 public:
  // Collective like the task: every rank of the run constructs its Trainer.
  Trainer(const ExperimentConfig& cfg, std::unique_ptr<Task> task);
  virtual ~Trainer();

  // Trains from scratch, or when resume from the newest checkpoint of the run
  // that verifies (skipping, with a warning, newer ones that do not). A fresh
  // run into a run.out_dir that holds checkpoints throws ConfigError unless
  // overwrite (then they are removed first).
  FitResult fit(bool resume, bool overwrite = false);
  // Restores the newest checkpoint of the run that verifies (what fit(true)
  // starts with), at this run's layout. Collective.
  void resumeFromNewest();

  // Asked between steps; when it returns true on any rank, training stops at
  // that step boundary and saves a checkpoint that --resume continues from.
  void setStopRequest(std::function<bool()> requested) { stop_request_ = std::move(requested); }
  // Told the phase of the run and the end of each step (null: nobody).
  void setObserver(parallel::RunObserver* observer) {
    observer_ = observer;
    task_->setObserver(observer);
  }

  Task& task() { return *task_; }
  int64_t globalStep() const { return state_.step; }

 protected:
  // One step of the task outside the epoch loop (benchmarks, tests): counts it
  // and tells the observer.
  double countedStep(const std::function<double(int64_t step)>& run);

 private:
  enum class EpochEnd { kDone, kStopped, kInterrupted };
  struct EpochSummary {
    int64_t items = 0;  // on all ranks
    double loss_sum = 0.0;
    int64_t loss_steps = 0;
    double seconds = 0.0;
    std::optional<Progress> progress;  // finished when the epoch line is logged
  };

  EpochEnd runEpoch(EpochSummary* summary);
  void logStep(EpochSummary& s, double loss, double secs);
  // Evaluation, selection, checkpoints. Returns true when early stopping ends the run.
  bool finishEpoch(EpochSummary& summary, FitResult* result);
  void saveCheckpoint(const std::string& name);
  void restore(const CheckpointInfo& ckpt);
  void refuseUsedOutDir(bool overwrite);
  double elapsedSeconds() const;
  void phase(parallel::Phase p) const {
    if (observer_ != nullptr) observer_->onPhase(p, state_.step);
  }

  ExperimentConfig cfg_;
  std::unique_ptr<Task> task_;
  std::optional<CheckpointManager> ckpt_;  // where the task keeps checkpoints
  MetricsWriter metrics_;
  std::function<bool()> stop_request_;
  parallel::RunObserver* observer_ = nullptr;
  TrainState state_;
  int64_t last_saved_step_ = -1;  // step of the newest step-* checkpoint written by this process
  std::chrono::steady_clock::time_point t_start_;
};

}  // namespace autoglm::trainer
