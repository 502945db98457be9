#pragma once
// Training loop for graph classification, on one process or on a data-parallel
// group (one Trainer per rank, each given the group's communicator).
//
// One step: collate each micro-batch, forward, cross-entropy, backward (the
// GradientReducer averages gradients over the group while backward runs),
// clip, learning-rate schedule, optimizer step. The loss of a rank's share is
// its summed loss over the graphs of the whole global batch (times the group
// size, as the reducer averages), so any number of ranks trains the model one
// process would train on the combined batches. Each epoch ends with
// evaluation on the validation and test splits, early stopping on validation
// accuracy and a checkpoint; the best-validation model is kept as
// checkpoints/best and its test accuracy is the run's result.

#include <torch/optim/optimizer.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "core/graph_classifier.h"
#include "parallel/gradient_reducer.h"
#include "trainer/checkpoint.h"
#include "trainer/experiment_config.h"
#include "trainer/lr_schedule.h"
#include "trainer/metrics.h"
#include "trainer/text_data.h"

namespace autoglm::trainer {

struct EvalResult {
  double loss = 0.0;
  double accuracy = 0.0;
  int64_t count = 0;
};

struct FitResult {
  double test_accuracy = 0.0;      // of the best-validation model
  double best_val_accuracy = 0.0;
  int64_t best_epoch = -1;         // 1-based
  int64_t epochs_run = 0;
  int64_t steps = 0;
  double seconds = 0.0;
  bool stopped_early = false;
  bool interrupted = false;        // stopped by the stop flag; a checkpoint was saved
};

class Trainer {
 public:
  // dp: the data-parallel group (all ranks construct their Trainer together);
  // null or a group of one trains on this process alone.
  Trainer(const ExperimentConfig& cfg, const PreparedData& data, std::shared_ptr<comm::Communicator> dp = nullptr);
  ~Trainer();

  // Trains from scratch, or from the run's latest checkpoint when resume.
  FitResult fit(bool resume);
  EvalResult evaluate(const std::vector<int64_t>& indices);

  // One optimisation step over micro-batches of this rank's graphs; global_graphs
  // is the number of graphs of the step on all ranks together. Returns this
  // rank's loss (its share of the global mean, times the group size).
  double trainStep(const std::vector<std::vector<int64_t>>& micro_batches, int64_t global_graphs);
  // trainStep of one batch, every rank with as many graphs.
  double trainBatch(const std::vector<int64_t>& indices);
  // Seconds spent in each phase of the steps so far (for benchmarks).
  struct PhaseTimes {
    double collate = 0, forward = 0, backward = 0, sync = 0, optimizer = 0;
  };
  const PhaseTimes& phaseTimes() const { return times_; }
  const std::vector<int64_t>& trainIndices() const { return train_idx_; }

  core::GraphClassifier& model() { return model_; }
  // Null on one process.
  parallel::GradientReducer* reducer() { return reducer_.get(); }
  int rank() const { return rank_; }
  int worldSize() const { return world_; }
  torch::optim::Optimizer& optimizer() { return *optimizer_; }
  int64_t globalStep() const { return step_; }
  // Called after backward and before clipping (data-parallel all-reduce goes here).
  void setGradientSync(std::function<void()> fn) { grad_sync_ = std::move(fn); }
  // When *flag becomes true (a signal handler, another thread), training stops at
  // the next step boundary and saves a checkpoint that --resume continues from.
  void setStopFlag(const std::atomic<bool>* flag) { stop_flag_ = flag; }

 private:
  struct Position {
    int64_t epoch = 0;           // 0-based epoch in progress
    int64_t batch_in_epoch = 0;  // batches of that epoch already done
  };
  std::vector<std::vector<int64_t>> epochBatches(int64_t epoch, std::vector<int64_t>* global_sizes = nullptr) const;
  bool stopRequested() const;
  // This rank's RNG and compressor state, as a LibTorch archive.
  std::string rankState() const;
  void loadRankState(const std::string& bytes, const std::string& what);
  core::GraphBatch makeBatch(const std::vector<int64_t>& indices) const;

  void saveCheckpoint(const std::string& name, const Position& pos);
  void restore(const CheckpointInfo& ckpt, Position* pos);

  ExperimentConfig cfg_;
  const PreparedData& data_;
  std::shared_ptr<comm::Communicator> dp_;
  int rank_ = 0;
  int world_ = 1;
  std::unique_ptr<parallel::GradientReducer> reducer_;
  std::vector<int64_t> train_idx_, val_idx_, test_idx_;
  core::GraphClassifier model_{nullptr};
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  LrSchedule schedule_;
  CheckpointManager ckpt_;
  MetricsWriter metrics_;
  std::function<void()> grad_sync_;
  const std::atomic<bool>* stop_flag_ = nullptr;

  PhaseTimes times_;
  int64_t step_ = 0;
  int64_t last_saved_step_ = -1;  // step of the newest step-* checkpoint written by this process
  double best_val_ = -1.0;
  double best_val_loss_ = 1e300;
  double test_at_best_ = 0.0;
  int64_t best_epoch_ = -1;
  int64_t bad_epochs_ = 0;
  double elapsed_before_ = 0.0;  // seconds of training before a resume
  std::chrono::steady_clock::time_point t_start_;
  double elapsedSeconds() const;
};

}  // namespace autoglm::trainer
