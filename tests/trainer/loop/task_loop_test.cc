// The one training loop (trainer/loop/trainer.h) over a task that is not a
// graph model: the minimal toy task a new model family starts from. It checks
// what the loop promises every task: the plan's batches in order, in steps of
// train.grad_accumulation, the items each step covers, selection with ties
// broken by loss, early stopping, max_steps, and finish() with the selection.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <vector>

#include "tests/trainer/test_util.h"
#include "trainer/loop/trainer.h"

namespace autoglm::trainer {
namespace {

struct Call {
  int64_t first, last, items, step;
};

// Seven items per epoch in batches of 2, 2, 2, 1 (global sizes ×3: three
// "ranks"); validation scores scripted per epoch.
class ToyTask final : public Task {
 public:
  explicit ToyTask(std::vector<std::pair<double, double>> val) : val_(std::move(val)) {}

  std::string itemName() const override { return "triples"; }
  std::string metricName() const override { return "mrr"; }
  bool root() const override { return true; }
  double learningRate(int64_t) const override { return 0.1; }
  std::string describe() const override { return "toy task"; }
  EpochPlan planEpoch(int64_t epoch) override {
    planned.push_back(epoch);
    return {{6, 6, 6, 3}};
  }
  double trainStep(int64_t first, int64_t last, int64_t items, int64_t step) override {
    calls.push_back({first, last, items, step});
    return 1.0 / static_cast<double>(step + 1);
  }
  double meanOverRanks(double loss_sum) override { return loss_sum; }
  bool anyRank(bool local) override { return local; }
  Scores evaluate() override {
    Scores s;
    const auto& [metric, loss] = val_.at(static_cast<size_t>(evaluated++));
    s.val_metric = metric;
    s.val_loss = loss;
    s.test_metric = metric / 2;
    return s;
  }
  std::string epochLine(const EpochReport& r) const override { return fmt::format("toy epoch {}", r.epoch); }
  nlohmann::json epochMetrics(const EpochReport&) const override { return nlohmann::json::object(); }
  void keepBest(const TrainState& state) override { kept.push_back(state.best_epoch); }
  void finish(const TrainState& state, FitResult* r) override {
    finished_at_best = state.best_epoch;
    r->test_metric = 0.5;
  }

  std::vector<std::pair<double, double>> val_;
  int evaluated = 0;
  std::vector<int64_t> planned, kept;
  std::vector<Call> calls;
  int64_t finished_at_best = -1;
};

ExperimentConfig toyConfig(const testing::TempDir& dir) {
  ExperimentConfig cfg;
  cfg.run.out_dir = (dir / "run").string();
  cfg.train.epochs = 10;
  cfg.train.grad_accumulation = 3;
  cfg.train.patience = 2;
  cfg.train.progress = ProgressMode::kOff;
  return cfg;
}

TEST(TaskLoop, DrivesAToyTaskThroughStepsSelectionAndEarlyStopping) {
  testing::TempDir dir("toy_task");
  auto owned = std::make_unique<ToyTask>(std::vector<std::pair<double, double>>{
      {0.5, 1.0}, {0.7, 0.9}, {0.6, 0.8}, {0.7, 0.7}, {0.65, 0.6}, {0.6, 0.5}, {0.9, 0.1}});
  ToyTask& toy = *owned;
  Trainer trainer(toyConfig(dir), std::move(owned));
  const FitResult r = trainer.fit(/*resume=*/false);
  // Epoch 4 ties epoch 2's 0.7 with a lower loss: it is the best; 5 and 6 do
  // not improve, so patience 2 stops after epoch 6 (epoch 7's 0.9 never runs).
  EXPECT_EQ(r.best_epoch, 4);
  EXPECT_TRUE(r.stopped_early);
  EXPECT_EQ(r.epochs_run, 6);
  EXPECT_EQ(toy.kept, (std::vector<int64_t>{1, 2, 4}));
  EXPECT_EQ(toy.finished_at_best, 4);
  EXPECT_DOUBLE_EQ(r.test_metric, 0.5);  // finish()'s
  EXPECT_DOUBLE_EQ(r.best_score, 0.7);
  EXPECT_EQ(r.metric, "mrr");
  // Two steps per epoch: batches [0, 3) with 18 items, then [3, 4) with 3.
  ASSERT_EQ(toy.calls.size(), 12u);
  for (size_t i = 0; i < toy.calls.size(); ++i) {
    const Call& c = toy.calls[i];
    EXPECT_EQ(c.step, static_cast<int64_t>(i));
    EXPECT_EQ(c.first, i % 2 == 0 ? 0 : 3);
    EXPECT_EQ(c.last, i % 2 == 0 ? 3 : 4);
    EXPECT_EQ(c.items, i % 2 == 0 ? 18 : 3);
  }
  EXPECT_EQ(toy.planned, (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(r.steps, 12);
  // No checkpointing(): nothing written into run.out_dir.
  EXPECT_FALSE(std::filesystem::exists(dir / "run"));
}

TEST(TaskLoop, MaxStepsEndsTheRunMidEpoch) {
  testing::TempDir dir("toy_task_max");
  ExperimentConfig cfg = toyConfig(dir);
  cfg.train.grad_accumulation = 1;
  cfg.train.max_steps = 6;
  auto owned = std::make_unique<ToyTask>(std::vector<std::pair<double, double>>{{0.5, 1.0}, {0.6, 1.0}});
  ToyTask& toy = *owned;
  Trainer trainer(cfg, std::move(owned));
  const FitResult r = trainer.fit(false);
  EXPECT_EQ(r.steps, 6);
  EXPECT_EQ(r.epochs_run, 1);  // epoch 2 stopped after its second batch
  EXPECT_EQ(toy.calls.size(), 6u);
  EXPECT_EQ(toy.calls.back().first, 1);
}

}  // namespace
}  // namespace autoglm::trainer
