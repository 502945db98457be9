#include "trainer/tasks/make_task.h"

#include <fmt/format.h>

#include "core/error.h"
#include "trainer/tasks/corpus_gcn/corpus_gcn_task.h"
#include "trainer/tasks/graph_classification/classification_task.h"
#include "trainer/tasks/kg_completion/kg_task.h"

namespace autoglm::trainer {

const TaskSpec& taskSpec(core::model::ModelKind kind) {
  using core::model::ModelKind;
  static const TaskSpec kGat{"gat", true, true, true, validateClassification,
                             [](const ExperimentConfig& cfg, const TaskInputs& in) -> std::unique_ptr<Task> {
                               AUTOGLM_CHECK(in.data != nullptr, "graph classification needs prepared graphs");
                               return std::make_unique<ClassificationTask>(cfg, *in.data, in.grid);
                             }};
  static const TaskSpec kCorpusGcn{"corpus_gcn", false, false, false, validateCorpusGcn,
                                   [](const ExperimentConfig& cfg, const TaskInputs&) -> std::unique_ptr<Task> {
                                     return std::make_unique<CorpusGcnTask>(cfg);
                                   }};
  static const TaskSpec kKg{"kg_completion", false, true, true, validateKgCompletion,
                            [](const ExperimentConfig& cfg, const TaskInputs& in) -> std::unique_ptr<Task> {
                              return std::make_unique<KgTask>(cfg, in.grid);
                            }};
  switch (kind) {
    case ModelKind::kGat: return kGat;
    case ModelKind::kCorpusGcn: return kCorpusGcn;
    case ModelKind::kKgCompletion: return kKg;
  }
  throw ConfigError("model.kind: unknown kind " + std::to_string(static_cast<int>(kind)));
}

void validateRun(ExperimentConfig* cfg, const RunRequest& run) {
  const TaskSpec& spec = taskSpec(cfg->model.kind);
  const int64_t layout = cfg->parallel.dp * cfg->parallel.tp * cfg->parallel.pp;
  if (!spec.parallel && (layout > 1 || run.world_size > 1)) {
    throw ConfigError(fmt::format("model.kind={} trains on one process; parallel.dp*tp*pp = {} and {} launched "
                                  "ranks: set parallel.dp, tp and pp to 1 and start it without mpirun",
                                  spec.name, layout, run.world_size));
  }
  if (!spec.checkpoints && (run.init || run.resume)) {
    throw ConfigError(fmt::format("model.kind={} starts from scratch: drop --init-from and --resume", spec.name));
  }
  validateExperiment(cfg, run);
  spec.validate(*cfg, run);
}

}  // namespace autoglm::trainer
