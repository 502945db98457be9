#pragma once
// Contrastive pre-training (pretrain_task.h) through the one training loop:
// the loop's settings from the pretrain section (pretrain.epochs epochs, one
// batch per step, no early stopping, run.out_dir = <run.out_dir>/pretrain,
// where metrics.jsonl and the checkpoint go).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "trainer/loop/trainer.h"
#include "trainer/tasks/pretrain/pretrain_task.h"

namespace autoglm::trainer {

struct PretrainResult {
  std::string checkpoint;  // the directory written
  std::vector<PretrainEpoch> epochs;
  int64_t steps = 0;
};

class Pretrainer {
 public:
  // Throws ConfigError when parallel.dp * parallel.tp * parallel.pp > 1
  // (pre-training runs on one process).
  Pretrainer(const ExperimentConfig& cfg, const core::graph::PreparedData& data);

  // pretrain.epochs epochs, then the checkpoint. Throws ConfigError when
  // pretrain.epochs is 0.
  PretrainResult run();

  core::model::GraphClassifier& model() { return task_.model(); }
  const std::vector<int64_t>& indices() const { return task_.indices(); }

  // <run.out_dir>/pretrain: the pre-training run's folder (a run directory
  // `--init-from` and `eval --checkpoint` accept).
  static std::string runDir(const ExperimentConfig& cfg);

 private:
  int64_t epochs_;
  Trainer loop_;
  PretrainTask& task_;
};

}  // namespace autoglm::trainer
