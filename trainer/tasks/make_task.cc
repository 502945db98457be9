#include "trainer/tasks/make_task.h"

#include "core/error.h"
#include "trainer/tasks/corpus_gcn/corpus_gcn_task.h"
#include "trainer/tasks/graph_classification/classification_task.h"

namespace autoglm::trainer {

const TaskSpec& taskSpec(core::model::ModelKind kind) {
  using core::model::ModelKind;
  static const TaskSpec kGat{"gat", true, true, true, validateClassification,
                             [](const ExperimentConfig& cfg, const TaskInputs& in) -> std::unique_ptr<Task> {
                               AUTOGLM_CHECK(in.data != nullptr, "graph classification needs prepared graphs");
                               return std::make_unique<ClassificationTask>(cfg, *in.data, in.groups);
                             }};
  static const TaskSpec kCorpusGcn{"corpus_gcn", false, false, false, validateCorpusGcn,
                                   [](const ExperimentConfig& cfg, const TaskInputs&) -> std::unique_ptr<Task> {
                                     return std::make_unique<CorpusGcnTask>(cfg);
                                   }};
  switch (kind) {
    case ModelKind::kGat: return kGat;
    case ModelKind::kCorpusGcn: return kCorpusGcn;
  }
  throw ConfigError("model.kind: unknown kind " + std::to_string(static_cast<int>(kind)));
}

}  // namespace autoglm::trainer
