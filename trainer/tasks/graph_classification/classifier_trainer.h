#pragma once
// The training loop over a graph-classification task: what the CLI, the
// benchmarks and the tests build (one line instead of a task and a loop).

#include <memory>
#include <utility>
#include <vector>

#include "trainer/loop/trainer.h"
#include "trainer/tasks/graph_classification/classification_task.h"

namespace autoglm::trainer {

class ClassifierTrainer final : public Trainer {
 public:
  // Any layout dp x tp x pp; ParallelGrid::alone(): this process alone.
  ClassifierTrainer(const ExperimentConfig& cfg, const core::graph::PreparedData& data,
                    parallel::ParallelGrid grid = parallel::ParallelGrid::alone())
      : Trainer(cfg, std::make_unique<ClassificationTask>(cfg, data, std::move(grid))),
        task_(static_cast<ClassificationTask&>(task())) {}
  // Data parallel over `dp` (null or a group of one: this process alone).
  ClassifierTrainer(const ExperimentConfig& cfg, const core::graph::PreparedData& data,
                    std::shared_ptr<comm::Communicator> dp)
      : ClassifierTrainer(cfg, data, parallel::ParallelGrid::dataParallel(std::move(dp))) {}

  ClassificationTask& classification() { return task_; }
  core::model::GraphClassifier& model() { return task_.model(); }
  StepRunner& steps() { return task_.steps(); }
  std::vector<std::vector<int64_t>> epochBatches(int64_t epoch, std::vector<int64_t>* global_sizes = nullptr) const {
    return task_.epochBatches(epoch, global_sizes);
  }
  const std::vector<int64_t>& trainIndices() const { return task_.trainIndices(); }
  const std::vector<int64_t>& validationIndices() const { return task_.validationIndices(); }
  EvalResult evaluate(EvalSplit split) { return task_.evaluate(split); }
  // One step outside the epoch loop (benchmarks, tests): see StepRunner::run.
  double trainStep(const std::vector<std::vector<int64_t>>& micro_batches, int64_t global_graphs) {
    return countedStep([&](int64_t step) { return task_.steps().run(micro_batches, global_graphs, step); });
  }

 private:
  ClassificationTask& task_;
};

}  // namespace autoglm::trainer
