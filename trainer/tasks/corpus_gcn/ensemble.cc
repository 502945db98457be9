#include "trainer/tasks/corpus_gcn/ensemble.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include <algorithm>
#include <iostream>
#include <limits>

#include "core/error.h"
#include "core/graph/graph_batch.h"
#include "core/log.h"
#include "trainer/inference/predictor.h"

namespace autoglm::trainer {

double accuracyOf(const at::Tensor& scores, const at::Tensor& idx, const at::Tensor& labels) {
  return scores.index_select(0, idx).argmax(1).eq(labels.index_select(0, idx)).to(at::kDouble).mean().item<double>();
}

namespace {

// Class probabilities [documents, classes] of a trained per-document
// classifier on this run's corpus, after checking that its validation split is
// this run's.
at::Tensor checkpointProbabilities(const ExperimentConfig& cfg, const core::text::TextDataset& ds) {
  const std::string& path = cfg.corpus.ensemble_checkpoint;
  CheckpointOnData c = openOnData(path, {"data.dir=" + cfg.data.dir, "data.corpus=" + cfg.data.corpus,
                                         "data.labels=" + cfg.data.labels});
  if (c.cfg.run.seed != cfg.run.seed || c.cfg.data.val_fraction != cfg.data.val_fraction) {
    throw ConfigError(fmt::format("corpus.ensemble_checkpoint={}: trained with run.seed {} and data.val_fraction {}, "
                                  "this run has {} and {}; they must match, or its training documents would be "
                                  "this run's validation documents",
                                  path, c.cfg.run.seed, c.cfg.data.val_fraction, cfg.run.seed, cfg.data.val_fraction));
  }
  if (c.data.label_names != ds.label_names || c.data.store.size() != ds.size()) {
    throw ConfigError("corpus.ensemble_checkpoint=" + path + ": its labels or documents are not those of data.dir=" +
                      cfg.data.dir);
  }
  at::Tensor probs = at::zeros({ds.size(), ds.numClasses()}, at::kFloat);
  const int64_t batch = c.cfg.train.eval_batch_graphs;
  for (int64_t b = 0; b < ds.size(); b += batch) {
    std::vector<core::graph::GraphView> views;
    for (int64_t i = b; i < std::min(ds.size(), b + batch); ++i) views.push_back(c.data.store.graph(i));
    probs.narrow(0, b, static_cast<int64_t>(views.size())).copy_(c.evaluator->classify(views).probabilities);
  }
  core::log::info0("ensemble: class probabilities of {} for {} documents", c.ckpt.dir, ds.size());
  return probs;
}

// The weight of 0, 0.1, ..., 1 on `gcn` whose mixture has the lowest mean
// negative log-likelihood on the validation documents.
double selectWeight(const at::Tensor& gcn, const at::Tensor& other, const at::Tensor& val_idx, const at::Tensor& labels) {
  const at::Tensor g = gcn.index_select(0, val_idx), o = other.index_select(0, val_idx);
  const at::Tensor y = labels.index_select(0, val_idx).unsqueeze(1);
  double best_w = 1.0, best_nll = std::numeric_limits<double>::infinity();
  for (int k = 0; k <= 10; ++k) {
    const double w = 0.1 * k;
    const at::Tensor p = (g * w + o * (1.0 - w)).gather(1, y).clamp_min(1e-12);
    const double nll = -p.log().mean().item<double>();
    if (nll < best_nll) best_nll = nll, best_w = w;
  }
  core::log::info0("ensemble: weight {:.1f} on the GCN has the lowest validation loss ({:.4f})", best_w, best_nll);
  return best_w;
}

}  // namespace

at::Tensor mixWithCheckpoint(const ExperimentConfig& cfg, const core::text::TextDataset& ds, const at::Tensor& probs,
                             const at::Tensor& held_out, const at::Tensor& val_idx, const at::Tensor& test_idx,
                             const at::Tensor& labels) {
  const at::Tensor other = checkpointProbabilities(cfg, ds);
  const double w =
      cfg.corpus.ensemble_select ? selectWeight(held_out, other, val_idx, labels) : cfg.corpus.ensemble_weight;
  const at::Tensor mixed = probs * w + other * (1.0 - w);
  const double gcn_test = accuracyOf(probs, test_idx, labels);
  core::log::info0("ensemble (weight {:.2f} on the GCN): val accuracy GCN {:.4f}, checkpoint {:.4f}, mixed {:.4f}; "
                   "test accuracy GCN {:.4f}, checkpoint {:.4f}, mixed {:.4f}",
                   w, accuracyOf(held_out, val_idx, labels), accuracyOf(other, val_idx, labels),
                   accuracyOf(held_out * w + other * (1.0 - w), val_idx, labels), gcn_test,
                   accuracyOf(other, test_idx, labels), accuracyOf(mixed, test_idx, labels));
  std::cout << "corpus_gcn alone test accuracy: " << fmt::format("{:.4f}", gcn_test) << std::endl;
  return mixed;
}

}  // namespace autoglm::trainer
