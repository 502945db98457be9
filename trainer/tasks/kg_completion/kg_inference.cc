#include "trainer/tasks/kg_completion/kg_inference.h"

#include <fmt/format.h>

#include "core/error.h"
#include "parallel/process_grid.h"
#include "trainer/inference/predictor.h"
#include "trainer/loop/train_state.h"
#include "trainer/tasks/kg_completion/kg_checkpoint.h"

namespace autoglm::trainer {

KgInference loadKgInference(const CheckpointInfo& ckpt, const std::vector<std::string>& overrides) {
  ExperimentConfig cfg = configFromCheckpoint(ckpt, overrides);
  if (cfg.model.kind != core::model::ModelKind::kKgCompletion) {
    throw ConfigError(fmt::format("{}: model.kind={} is not kg_completion", ckpt.dir, core::enumName(cfg.model.kind)));
  }
  if (cfg.kg.data_dir.empty()) throw ConfigError(ckpt.dir + "/config.yaml: kg.data_dir is empty; set it with --set");
  core::kg::KgDataset data = core::kg::KgDataset::load(cfg.kg.data_dir);
  const TrainState saved = TrainState::fromJson(ckpt.state, ckpt.dir + "/state.json");
  if (saved.vocab_size != data.numEntities() || saved.num_classes != data.numRelations()) {
    throw CheckpointError(fmt::format("{}: written for {} entities and {} relations, the graph in kg.data_dir={} has "
                                      "{} and {}; point --set kg.data_dir=DIR at the graph it was trained on",
                                      ckpt.dir, saved.vocab_size, saved.num_classes, cfg.kg.data_dir,
                                      data.numEntities(), data.numRelations()));
  }
  const int64_t relation_rows = cfg.kg.reciprocal ? 2 * data.numRelations() : data.numRelations();
  auto model = std::make_unique<KgModel>(cfg.kg, data.numEntities(), relation_rows,
                                         static_cast<uint64_t>(cfg.run.seed), 0, 1);
  readKgTables(ckpt, *model, nullptr);
  return KgInference{ckpt, std::move(cfg), std::move(data), std::move(model)};
}

core::kg::FilterIndex kgFilter(const std::string& splits, const core::kg::KgDataset& d) {
  std::vector<const std::vector<core::kg::Triple>*> chosen;
  std::string rest = splits;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string name = rest.substr(0, comma);
    rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
    if (name == "train") chosen.push_back(&d.train());
    else if (name == "valid") chosen.push_back(&d.valid());
    else if (name == "test") chosen.push_back(&d.test());
    else if (!name.empty()) throw ConfigError("kg.filter: unknown split \"" + name + "\" (train, valid, test)");
  }
  return core::kg::FilterIndex(d.numRelations(), chosen);
}

RankingMetrics rankKgTest(const KgInference& kg) {
  const core::kg::FilterIndex filter = kgFilter(kg.cfg.kg.filter, kg.data);
  return rankFiltered(*kg.model, kg.data.test(), kg.data.numRelations(), filter,
                      {kg.cfg.kg.reciprocal, kg.cfg.kg.eval_batch}, parallel::ParallelGrid::alone());
}

}  // namespace autoglm::trainer
