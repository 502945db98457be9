#pragma once
// Contrastive self-supervised pre-training of the classifier's encoder as a
// task of the one training loop (pretrain: section, trainer/config/pretrain_config.h),
// on one process. Pretrainer (pretrainer.h) runs it.
//
// The model is built as training builds it (buildModel: the same parameter
// names, the same initialisation at run.seed, model.embed_init included). Each
// epoch visits the documents of pretrain.splits (their text, never their
// labels) in a random order seeded by run.seed and the epoch, in batches of
// pretrain.batch_graphs (a batch of a single graph, which has no negatives, is
// left out of the plan); every graph of a batch gets two views (edge pairs
// dropped, word tokens masked as <unk>: core/graph/augment.h, drawn from a
// std::mt19937_64 seeded by run.seed and the epoch), both views go through the
// encoder (embed, blocks, readout; the parts' own dropout off, feature dropout
// on the embeddings) and a 2-layer projection head, and the NT-Xent loss
// (core/model/contrastive.h) is minimised with Adam at pretrain.lr, gradients
// clipped at train.grad_clip. An item is a graph; there is no validation split
// and no model selection: the checkpoint is the model after the last epoch.
//
// The checkpoint has the training format (checkpoint/sharded_checkpoint.h) and
// is written at the end to <run.out_dir>/pretrain/checkpoints/step-NNNNNNNN
// (LATEST names it): every classifier parameter, the classification head as
// initialised, no projection head and no optimizer state, with the prepared
// data's vocabulary and labels, so `autoglm train --init-from` and
// `autoglm eval` accept it.

#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/graph/prepared_data.h"
#include "core/model/contrastive.h"
#include "core/model/graph_classifier.h"
#include "trainer/config/experiment_config.h"
#include "trainer/loop/task.h"

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

class PretrainTask final : public Task {
 public:
  // Throws ConfigError when parallel.dp * parallel.tp * parallel.pp > 1.
  PretrainTask(const ExperimentConfig& cfg, const core::graph::PreparedData& data);
  ~PretrainTask() override;

  std::string itemName() const override { return "graphs"; }
  std::string metricName() const override { return "infonce_loss"; }
  bool root() const override { return true; }
  double learningRate(int64_t) const override { return cfg_.pretrain.lr; }
  std::string describe() const override;
  EpochPlan planEpoch(int64_t epoch) override;
  double trainStep(int64_t first, int64_t last, int64_t items, int64_t step) override;
  double meanOverRanks(double loss_sum) override { return loss_sum; }
  bool anyRank(bool local) override { return local; }
  Scores evaluate() override;
  std::string epochLine(const EpochReport& r) const override;
  nlohmann::json epochMetrics(const EpochReport& r) const override;
  void keepBest(const TrainState&) override {}
  // Writes the checkpoint (checkpoint() names it).
  void finish(const TrainState& state, FitResult* result) override;

  core::model::GraphClassifier& model() { return model_; }
  // The graphs each epoch visits.
  const std::vector<int64_t>& indices() const { return indices_; }
  const std::vector<PretrainEpoch>& epochs() const { return epochs_; }
  const std::string& checkpoint() const { return checkpoint_; }

 private:
  // One optimizer step over the two views of `batch`; returns the loss.
  double step(const std::vector<int64_t>& batch);
  std::string save();

  ExperimentConfig cfg_;
  const core::graph::PreparedData& data_;
  std::vector<int64_t> indices_;
  core::model::GraphClassifier model_{nullptr};
  core::model::ProjectionHead proj_{nullptr};
  std::vector<at::Tensor> params_;  // encoder and projection head: what Adam moves
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  int64_t steps_ = 0;
  // The epoch in progress: its batches, the views' generator, what it did.
  std::vector<std::vector<int64_t>> batches_;
  std::mt19937_64 views_;
  std::chrono::steady_clock::time_point epoch_start_;
  double loss_sum_ = 0.0;
  std::vector<PretrainEpoch> epochs_;
  std::string checkpoint_;
};

}  // namespace autoglm::trainer
