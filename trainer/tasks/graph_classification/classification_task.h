#pragma once
// Graph classification (model.kind: gat): one graph per document, the
// GraphClassifier over it, cross-entropy on the document's label; accuracy on
// the validation split selects the epoch, the test split is scored every epoch.
// Runs at any layout dp x tp x pp: each rank's share of every global batch
// comes from the DistributedSampler, StepRunner takes one step over it (the
// pipeline and the reducer inside), Evaluator scores the splits over the
// data-parallel group, and the checkpoints are sharded by layout
// (checkpoint/sharded_checkpoint.h) with every rank's RNG and compressor state.
// An item is a graph.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/graph/prepared_data.h"
#include "core/model/graph_classifier.h"
#include "parallel/pipeline/stage_link.h"
#include "trainer/checkpoint/checkpoint.h"
#include "trainer/checkpoint/sharded_checkpoint.h"
#include "trainer/config/experiment_config.h"
#include "trainer/config/validate.h"
#include "trainer/inference/evaluator.h"
#include "trainer/loop/task.h"
#include "trainer/tasks/graph_classification/step_runner.h"
#include "parallel/process_grid.h"

namespace autoglm::trainer {

enum class EvalSplit { kValidation, kTest };

// Its config rules beyond validateExperiment's (pre-training runs on one process).
void validateClassification(const ExperimentConfig& cfg, const RunRequest& run);

class ClassificationTask final : public Task, public Checkpointing {
 public:
  // Collective over the grid (ParallelGrid::alone(): this process alone).
  ClassificationTask(const ExperimentConfig& cfg, const core::graph::PreparedData& data, parallel::ParallelGrid grid);
  ~ClassificationTask() override;

  std::string itemName() const override { return "graphs"; }
  std::string metricName() const override { return "accuracy"; }
  bool root() const override { return grid_.worldRank() == 0; }
  double learningRate(int64_t step) const override { return steps_->schedule().at(step); }
  std::string describe() const override;
  void setObserver(parallel::RunObserver* observer) override { steps_->setObserver(observer); }
  EpochPlan planEpoch(int64_t epoch) override;
  double trainStep(int64_t first, int64_t last, int64_t items, int64_t step) override;
  double meanOverRanks(double loss_sum) override;
  bool anyRank(bool local) override;
  Scores evaluate() override;
  std::string epochLine(const EpochReport& r) const override;
  nlohmann::json epochMetrics(const EpochReport& r) const override;
  void keepBest(const TrainState& state) override { save("best", state); }
  Checkpointing* checkpointing() override { return this; }
  void save(const std::string& name, const TrainState& state) override;
  TrainState restore(const CheckpointInfo& ckpt) override;
  CheckpointInfo fromRoot(const std::optional<CheckpointInfo>& on_root, const std::string& error) override;
  void initFrom(const CheckpointInfo& ckpt) override;
  void barrier() override;
  void describeRun(TrainState* state) const override;
  void finish(const TrainState& state, FitResult* result) override { result->test_metric = state.test_metric_at_best; }

  core::model::GraphClassifier& model() { return model_; }
  StepRunner& steps() { return *steps_; }
  // This rank's share of each global batch of `epoch` (the sampler's), and the
  // global batches' sizes.
  std::vector<std::vector<int64_t>> epochBatches(int64_t epoch, std::vector<int64_t>* global_sizes = nullptr) const;
  const std::vector<int64_t>& trainIndices() const { return train_idx_; }
  const std::vector<int64_t>& validationIndices() const { return val_idx_; }
  // Loss and accuracy on the validation or test split. Collective.
  EvalResult evaluate(EvalSplit split);

 private:
  CheckpointLayout layout() const;
  // Plain data parallel on several ranks: only world rank 0 reads checkpoints
  // (run.out_dir need not be shared) and sends the others what they need.
  bool rootReadsAlone() const { return grid_.world().size() > 1 && !grid_.modelParallel(); }
  // This rank's RNG and compressor state from `ckpt` (read by the root alone
  // when rootReadsAlone()).
  void restoreRankState(const CheckpointInfo& ckpt);

  ExperimentConfig cfg_;
  const core::graph::PreparedData& data_;
  parallel::ParallelGrid grid_;
  std::unique_ptr<parallel::pipeline::StageLink> link_;  // pipeline stages only
  std::vector<int64_t> stage_first_;                     // the first part of each stage
  std::vector<int64_t> train_idx_, val_idx_, test_idx_;
  core::model::GraphClassifier model_{nullptr};
  std::unique_ptr<StepRunner> steps_;
  std::unique_ptr<Evaluator> evaluator_;
  CheckpointManager ckpt_;
  // The plan of the epoch trainStep() steps through.
  int64_t planned_epoch_ = -1;
  std::vector<std::vector<int64_t>> batches_;
};

}  // namespace autoglm::trainer
