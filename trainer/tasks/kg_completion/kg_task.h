#pragma once
// Knowledge-graph completion (model.kind: kg_completion): an entity table and
// a relation table (kg_model.h) trained on a graph's triples (kg.data_dir,
// core/kg/kg_dataset.h) with TransE, RotatE or ComplEx scores (kg.score),
// either every query against every entity (kg.training: one_vs_all) or
// against negatives drawn per batch and shared by its triples (negative);
// evaluated by filtered ranking (kg_ranking.h): the validation MRR selects the
// epoch, the test split is ranked once at the end with the best epoch's model
// (<out_dir>/kg_metrics.json, with its per-relation breakdown).
//
// Parallel (dp x tp, pp = 1): the entity table is sharded by rows over tp,
// the relations replicated; each global batch of kg.batch triples is divided
// over dp, and the loss is the global batch's mean, so the steps equal one
// process's at any layout. The negatives of a step are drawn from (run.seed,
// step), the same on every rank. Gradients: the entity table's are row-sparse
// with negatives (reduced as rows over dp), dense with one_vs_all; the
// relations' dense. An item is a training triple (reciprocals included).
//
// Before any table is allocated, every rank checks what its share needs
// (kgMemoryNeed) against its limit (run.memory_limit, or the cgroup's divided
// among the ranks that share it): a layout that cannot fit is a ConfigError
// with the figures, on every rank.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/kg/kg_dataset.h"
#include "parallel/process_grid.h"
#include "trainer/checkpoint/checkpoint.h"
#include "trainer/config/experiment_config.h"
#include "trainer/config/validate.h"
#include "trainer/loop/task.h"
#include "trainer/optim/lr_schedule.h"
#include "trainer/tasks/kg_completion/kg_model.h"
#include "trainer/tasks/kg_completion/kg_ranking.h"

namespace torch::optim {
class Optimizer;
}

namespace autoglm::trainer {

// Its config rules beyond validateExperiment's.
void validateKgCompletion(const ExperimentConfig& cfg, const RunRequest& run);

class KgTask final : public Task, public Checkpointing {
 public:
  // Collective over the grid: loads the graph, checks memory, builds the tables.
  KgTask(const ExperimentConfig& cfg, parallel::ParallelGrid grid);
  ~KgTask() override;

  std::string itemName() const override { return "triples"; }
  std::string metricName() const override { return "mrr"; }
  bool root() const override { return grid_.worldRank() == 0; }
  double learningRate(int64_t step) const override { return schedule_.at(step); }
  std::string describe() const override;
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
  void finish(const TrainState& state, FitResult* result) override;

  KgModel& model() { return *model_; }
  torch::optim::Optimizer& optimizer() { return *opt_; }
  const parallel::ParallelGrid& grid() const { return grid_; }
  const core::kg::KgDataset& data() const { return data_; }
  // Filtered ranking of a split's triples (the first `max` when max > 0). Collective.
  RankingMetrics rank(core::kg::KgSplit split, int64_t max = 0);
  // One step's loss over the given triples of this rank (training-list ids),
  // for tests: the same arithmetic as trainStep, with `global` the triples of
  // the global batch.
  double stepOn(const std::vector<int64_t>& mine, int64_t global, int64_t step);

 private:
  // Training triple i of the epoch list (originals, then reciprocals).
  core::kg::Triple trainingTriple(int64_t i) const;
  void reduceGradients();

  ExperimentConfig cfg_;
  parallel::ParallelGrid grid_;
  std::chrono::steady_clock::time_point t0_;
  core::kg::KgDataset data_;
  core::kg::FilterIndex filter_;
  std::unique_ptr<KgModel> model_;
  std::unique_ptr<torch::optim::Optimizer> opt_;
  LrSchedule schedule_;
  CheckpointManager ckpt_;
  int64_t train_size_ = 0;   // training list length (with reciprocals)
  int64_t relation_rows_ = 0;
  int64_t planned_epoch_ = -1;
  std::vector<std::vector<int64_t>> batches_;  // this rank's share of each global batch
  std::vector<int64_t> global_sizes_;
  RankingMetrics last_valid_;
};

}  // namespace autoglm::trainer
