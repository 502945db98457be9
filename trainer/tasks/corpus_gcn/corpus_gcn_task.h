#pragma once
// Transductive training (model.kind: corpus_gcn): one graph over the documents
// of every split and their words (core/graph/corpus_graph.h), a two-layer GCN
// over it (core/model/corpus_gcn.h), trained full batch on the training
// documents' labels: an epoch is one batch and one step, an item a training
// document. The validation and test documents are nodes of the graph from the
// start (their text, never their labels, shapes it), as in TextGCN; a model
// trained so classifies the documents of its corpus only, so the run writes the
// test predictions, not a checkpoint for predict or serve (checkpoints: false).
//
// The run section's seed, the data, tokenizer and corpus sections, model.dropout
// and the train section's epochs, optimizer, lr, weight_decay, label_smoothing,
// patience, select and log_every apply. The epoch kept (in memory) is the best
// by train.select on the validation documents (loop/selection.h); the test
// documents are scored once, with it.
//
// corpus.refit: the chosen number of epochs is trained again from the same
// initialisation on the training and validation documents, kept at its last
// epoch, and predicts the test documents.
// With corpus.ensemble_checkpoint, the class probabilities of that trained
// per-document classifier (its best checkpoint) are mixed with the GCN's
// (ensemble.h). Writes <out_dir>/test_predictions.tsv (corpus line, split,
// gold, predicted) and <out_dir>/result.json.

#include <ATen/core/Tensor.h>

#include <chrono>
#include <memory>

#include "core/graph/corpus_graph.h"
#include "core/model/corpus_gcn.h"
#include "core/text/text_dataset.h"
#include "trainer/config/experiment_config.h"
#include "trainer/config/validate.h"
#include "trainer/loop/task.h"

namespace torch::optim {
class Optimizer;
}

namespace autoglm::trainer {

// Its config rules beyond validateExperiment's (no pre-training).
void validateCorpusGcn(const ExperimentConfig& cfg, const RunRequest& run);

class CorpusGcnTask final : public Task {
 public:
  // Loads the corpus and builds its graph and the model at run.seed.
  explicit CorpusGcnTask(const ExperimentConfig& cfg);
  ~CorpusGcnTask() override;

  std::string itemName() const override { return "documents"; }
  std::string metricName() const override { return "accuracy"; }
  bool root() const override { return true; }
  double learningRate(int64_t) const override { return cfg_.train.lr; }
  std::string describe() const override { return ""; }
  EpochPlan planEpoch(int64_t) override { return {{sp_.train.numel()}}; }
  double trainStep(int64_t first, int64_t last, int64_t items, int64_t step) override;
  double meanOverRanks(double loss_sum) override { return loss_sum; }
  bool anyRank(bool local) override { return local; }
  Scores evaluate() override;
  std::string epochLine(const EpochReport& r) const override;
  nlohmann::json epochMetrics(const EpochReport& r) const override;
  void keepBest(const TrainState& state) override;
  void finish(const TrainState& state, FitResult* result) override;

 private:
  // The run's document indices by split and the label of every node.
  struct Splits {
    at::Tensor train, val, test, labels;
  };
  // A fresh model and optimizer from the initialisation of run.seed.
  void initModel();
  // One full-batch optimizer step on the labels of the documents fit_idx; returns the loss.
  double fitStep(const at::Tensor& fit_idx);
  // Trains `epochs` full-batch epochs on the documents fit_idx, kept at the last.
  void refit(const at::Tensor& fit_idx, int64_t epochs);
  // Class probabilities [documents, classes] of the model as it is.
  at::Tensor probabilities();

  ExperimentConfig cfg_;
  std::chrono::steady_clock::time_point t0_;
  core::text::TextDataset ds_;
  core::graph::CorpusGraph graph_;
  core::model::SymmetricCsr adj_;
  Splits sp_;
  std::unique_ptr<core::model::CorpusGcn> model_;
  std::unique_ptr<torch::optim::Optimizer> opt_;
  at::Tensor best_w1_, best_w2_;
};

}  // namespace autoglm::trainer
