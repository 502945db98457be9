#pragma once
// The model kinds and the one switch on model.kind (torchtitan's TrainSpec,
// Megatron's model_provider): what each kind needs from the run (prepared
// graphs, a grid, checkpoints), its own config rules, and how its Task is built.
// Adding a kind: a folder under trainer/tasks/ with its Task, a value of
// core::model::ModelKind, and one line in taskSpec().

#include <functional>
#include <memory>

#include "core/graph/prepared_data.h"
#include "trainer/config/experiment_config.h"
#include "trainer/config/validate.h"
#include "trainer/loop/task.h"
#include "parallel/process_grid.h"

namespace autoglm::trainer {

// What a task is built from.
struct TaskInputs {
  const core::graph::PreparedData* data = nullptr;  // the prepared graphs, where the kind reads them
  parallel::ParallelGrid grid = parallel::ParallelGrid::alone();  // the run's grid
};

struct TaskSpec {
  const char* name;  // model.kind
  bool graphs;       // reads per-document graphs (prepared before the task is built)
  bool parallel;     // runs on several ranks
  bool checkpoints;  // resumable, and a start for --init-from
  // The kind's own config rules (after validateExperiment's shared ones).
  std::function<void(const ExperimentConfig&, const RunRequest&)> validate;
  std::function<std::unique_ptr<Task>(const ExperimentConfig&, const TaskInputs&)> make;
};

const TaskSpec& taskSpec(core::model::ModelKind kind);

// The whole validation of a run, before MPI starts work and before any data is
// prepared: what the model kind supports (several ranks, --resume and
// --init-from), validateExperiment's shared rules, then the kind's own.
void validateRun(ExperimentConfig* cfg, const RunRequest& run);

inline std::unique_ptr<Task> makeTask(const ExperimentConfig& cfg, const TaskInputs& in) {
  return taskSpec(cfg.model.kind).make(cfg, in);
}

}  // namespace autoglm::trainer
