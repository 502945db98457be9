#pragma once
// Contrastive self-supervised pre-training of the classifier's encoder
// (pretrain: section, trainer/config/pretrain_config.h), on one process.
//
// The model is built as training builds it (buildModel: the same parameter
// names, the same initialisation at run.seed, model.embed_init included). Each
// epoch visits the documents of pretrain.splits (their text, never their
// labels) in a random order seeded by run.seed and the epoch, in batches of
// pretrain.batch_graphs; every graph of a batch gets two views (edge pairs
// dropped, word tokens masked as <unk>: core/graph/augment.h, drawn from a
// std::mt19937_64 seeded by run.seed and the epoch), both views go through the
// encoder (embed, blocks, readout; the parts' own dropout off, feature dropout
// on the embeddings) and a 2-layer projection head, and the NT-Xent loss
// (core/model/contrastive.h) is minimised with Adam at pretrain.lr, gradients
// clipped at train.grad_clip. A batch of a single graph (no negatives) is
// skipped.
//
// The checkpoint has the training format (sharded_checkpoint.h) and is written
// to <run.out_dir>/pretrain/checkpoints/step-NNNNNNNN (LATEST names it): every
// classifier parameter, the classification head as initialised, no projection
// head and no optimizer state, with the prepared data's vocabulary and labels,
// so `autoglm train --init-from` and `autoglm eval` accept it.

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/graph/prepared_data.h"
#include "core/model/contrastive.h"
#include "core/model/graph_classifier.h"
#include "trainer/config/experiment_config.h"

namespace torch::optim {
class Optimizer;
}

namespace autoglm::trainer {

struct PretrainEpoch {
  double loss = 0.0;  // mean over the epoch's steps
  int64_t steps = 0;
  int64_t graphs = 0;
  double seconds = 0.0;
  double graphsPerSecond() const { return seconds > 0 ? static_cast<double>(graphs) / seconds : 0.0; }
};

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
  ~Pretrainer();

  // pretrain.epochs epochs, then the checkpoint. Throws ConfigError when
  // pretrain.epochs is 0.
  PretrainResult run();
  // One epoch (0-based) of steps; logs its loss and speed.
  PretrainEpoch runEpoch(int64_t epoch);
  // Writes the checkpoint of the model as it is now; returns its directory.
  std::string save();

  core::model::GraphClassifier& model() { return model_; }
  // The graphs each epoch visits.
  const std::vector<int64_t>& indices() const { return indices_; }
  int64_t steps() const { return steps_; }

  // <run.out_dir>/pretrain: the pre-training run's folder (a run directory
  // `--init-from` and `eval --checkpoint` accept).
  static std::string runDir(const ExperimentConfig& cfg);

 private:
  // One optimizer step over the two views of `batch`; returns the loss.
  double step(const std::vector<int64_t>& batch, std::mt19937_64& gen);

  ExperimentConfig cfg_;
  const core::graph::PreparedData& data_;
  std::vector<int64_t> indices_;
  core::model::GraphClassifier model_{nullptr};
  core::model::ProjectionHead proj_{nullptr};
  std::vector<at::Tensor> params_;  // encoder and projection head: what Adam moves
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  int64_t steps_ = 0;
};

}  // namespace autoglm::trainer
