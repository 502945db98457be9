#include "trainer/inference/predictor.h"

#include <ATen/Functions.h>
#include <ATen/Parallel.h>

#include "core/error.h"
#include "core/log.h"
#include "trainer/checkpoint/sharded_checkpoint.h"

namespace autoglm::trainer {

ExperimentConfig configFromCheckpoint(const CheckpointInfo& ckpt, const std::vector<std::string>& overrides) {
  YAML::Node root;
  try {
    root = YAML::Load(ckpt.config_yaml);
  } catch (const YAML::Exception& e) {
    throw CheckpointError(ckpt.dir + "/config.yaml: unreadable: " + e.msg);
  }
  for (const auto& o : overrides) core::applyOverride(root, o);
  ExperimentConfig cfg = ExperimentConfig::fromYaml(root, ckpt.dir + "/config.yaml");
  core::log::setLevel(core::enumName(cfg.run.log_level));
  if (cfg.run.threads > 0) at::set_num_threads(static_cast<int>(cfg.run.threads));
  return cfg;
}

core::model::GraphClassifier loadClassifier(const CheckpointInfo& ckpt, const ExperimentConfig& cfg) {
  core::model::GraphClassifier model(cfg.model, static_cast<int64_t>(ckpt.vocab_tokens.size()),
                                     static_cast<int64_t>(ckpt.label_names.size()));
  loadShardedModel(ckpt, *model, nullptr);  // whole, from any layout
  model->eval();
  return model;
}

void checkSameVocabulary(const CheckpointInfo& ckpt, const core::graph::PreparedData& data, const std::string& data_dir,
                         const std::string& hint) {
  if (data.vocab.tokens() != ckpt.vocab_tokens || data.label_names != ckpt.label_names) {
    throw CheckpointError(ckpt.dir + ": vocabulary/labels of the checkpoint differ from data in " + data_dir + hint);
  }
}

CheckpointOnData openOnData(const std::string& checkpoint, const std::vector<std::string>& overrides) {
  CheckpointInfo ckpt = openCheckpoint(checkpoint, /*prefer_best=*/true);
  ExperimentConfig cfg = configFromCheckpoint(ckpt, overrides);
  core::graph::PreparedData data = prepareData(cfg);
  checkSameVocabulary(ckpt, data, cfg.data.dir);
  auto evaluator = std::make_unique<Evaluator>(loadClassifier(ckpt, cfg), cfg.train.eval_batch_graphs);
  evaluator->setExitThreshold(cfg.infer.exit_threshold);
  return CheckpointOnData{std::move(ckpt), std::move(cfg), std::move(data), std::move(evaluator)};
}

Predictor::Predictor(const std::string& checkpoint, const std::vector<std::string>& overrides)
    : Predictor(openCheckpoint(checkpoint, /*prefer_best=*/true), overrides) {}

Predictor::Predictor(const CheckpointInfo& ckpt, const std::vector<std::string>& overrides)
    : cfg_(configFromCheckpoint(ckpt, overrides)),
      dir_(ckpt.dir),
      labels_(ckpt.label_names),
      vocab_(core::text::Vocab::fromTokens(ckpt.vocab_tokens)),
      tokenizer_(cfg_.tokenizer),
      builder_(core::graph::makeGraphBuilder(cfg_.graph, &vocab_)) {
  evaluator_ = std::make_unique<Evaluator>(loadClassifier(ckpt, cfg_), cfg_.train.eval_batch_graphs);
  evaluator_->setExitThreshold(cfg_.infer.exit_threshold);
}

std::optional<core::graph::Graph> Predictor::prepare(std::string_view text) const {
  const core::graph::Document doc = core::graph::makeDocument(text, tokenizer_, vocab_);
  if (doc.ids.empty()) return std::nullopt;
  core::graph::Graph g = builder_->buildDocument(doc);
  g.label = -1;
  return g;
}

Classified Predictor::classify(const std::vector<core::graph::GraphView>& graphs) {
  return evaluator_->classify(graphs);
}

}  // namespace autoglm::trainer
