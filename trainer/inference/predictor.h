#pragma once
// A checkpoint made ready to classify text on one process, without a Trainer:
// its config, tokenizer, vocabulary, graph builder and classifier (from any
// layout it was saved at). `autoglm predict` and `autoglm serve` use it.

#include <ATen/core/Tensor.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/graph/graph.h"
#include "core/graph/graph_builder.h"
#include "core/graph/prepared_data.h"
#include "core/text/tokenizer.h"
#include "core/text/vocab.h"
#include "trainer/checkpoint/checkpoint.h"
#include "trainer/inference/evaluator.h"
#include "trainer/config/experiment_config.h"

namespace autoglm::trainer {

// The config a checkpoint was trained with, `overrides` applied; run settings
// (log level, threads) take effect.
ExperimentConfig configFromCheckpoint(const CheckpointInfo& ckpt, const std::vector<std::string>& overrides);
// The whole classifier of a checkpoint saved at any layout, in eval mode.
core::model::GraphClassifier loadClassifier(const CheckpointInfo& ckpt, const ExperimentConfig& cfg);

// Throws CheckpointError naming data_dir when `data`'s vocabulary or labels are
// not the checkpoint's; `hint` ends the message.
void checkSameVocabulary(const CheckpointInfo& ckpt, const core::graph::PreparedData& data, const std::string& data_dir,
                         const std::string& hint = "");

// A checkpoint opened for scoring on its data (`autoglm eval`, `compare`): its
// config (overrides applied), the prepared data.dir, checked against its
// vocabulary, and an Evaluator of its whole model at infer.exit_threshold.
struct CheckpointOnData {
  CheckpointInfo ckpt;
  ExperimentConfig cfg;
  core::graph::PreparedData data;
  std::unique_ptr<Evaluator> evaluator;
};
CheckpointOnData openOnData(const std::string& checkpoint, const std::vector<std::string>& overrides);

class Predictor {
 public:
  // checkpoint: a checkpoint or run directory (a run's best/ is preferred).
  // overrides ("infer.exit_threshold=0.9", "serve.port=0") apply to the config
  // the checkpoint was trained with.
  Predictor(const std::string& checkpoint, const std::vector<std::string>& overrides);
  Predictor(const CheckpointInfo& ckpt, const std::vector<std::string>& overrides);

  const ExperimentConfig& config() const { return cfg_; }
  const std::string& checkpointDir() const { return dir_; }
  const std::vector<std::string>& labels() const { return labels_; }

  // The graph of one text, or nothing when it has no tokens. Safe to call
  // from several threads at once.
  std::optional<core::graph::Graph> prepare(std::string_view text) const;
  // Probabilities and exit blocks of a batch (infer.exit_threshold applies).
  // One thread at a time.
  Classified classify(const std::vector<core::graph::GraphView>& graphs);

 private:
  ExperimentConfig cfg_;
  std::string dir_;
  std::vector<std::string> labels_;
  core::text::Vocab vocab_;
  core::text::Tokenizer tokenizer_;
  std::unique_ptr<core::graph::GraphBuilder> builder_;
  std::unique_ptr<Evaluator> evaluator_;
};

}  // namespace autoglm::trainer
