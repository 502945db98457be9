#include "trainer/corpus_trainer.h"

#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <torch/autograd.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <algorithm>
#include <limits>

#include "core/error.h"
#include "core/graph/corpus_graph.h"
#include "core/graph/prepared_data.h"
#include "core/log.h"
#include "core/model/corpus_gcn.h"
#include "core/text/text_dataset.h"
#include "core/text/tokenizer.h"
#include "trainer/optimizer.h"
#include "trainer/predictor.h"

namespace autoglm::trainer {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Scored {
  double loss = 0.0, accuracy = 0.0;
};

// The fraction of the documents idx whose highest score (logits or
// probabilities) is their label.
double accuracyOf(const at::Tensor& scores, const at::Tensor& idx, const at::Tensor& labels) {
  return scores.index_select(0, idx).argmax(1).eq(labels.index_select(0, idx)).to(at::kDouble).mean().item<double>();
}

Scored score(const at::Tensor& logits, const at::Tensor& idx, const at::Tensor& labels) {
  Scored s;
  s.loss = at::cross_entropy_loss(logits.index_select(0, idx), labels.index_select(0, idx)).item<double>();
  s.accuracy = accuracyOf(logits, idx, labels);
  return s;
}

at::Tensor longTensor(const std::vector<int64_t>& v) {
  return at::tensor(at::ArrayRef<int64_t>(v), at::TensorOptions().dtype(at::kLong));
}

core::graph::CorpusGraph buildGraph(const ExperimentConfig& cfg, const core::text::TextDataset& ds) {
  const auto t0 = Clock::now();
  core::text::Tokenizer tok(cfg.tokenizer);
  std::vector<std::vector<std::string>> docs(static_cast<size_t>(ds.size()));
  at::parallel_for(0, ds.size(), 64, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) docs[static_cast<size_t>(i)] = tok.tokenize(ds.texts[static_cast<size_t>(i)]);
  });
  core::graph::CorpusGraph g = core::graph::buildCorpusGraph(docs, cfg.corpus);
  core::log::info0("corpus graph: {} documents, {} words, {} concepts; {} word-word (PMI), {} document-word "
                   "(TF-IDF), {} word-concept edges; {} nonzeros, built in {:.1f}s",
                   g.num_docs, g.words.size(), g.concepts.size(), g.word_word_edges, g.doc_word_edges,
                   g.word_concept_edges, g.nnz(), since(t0));
  return g;
}

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

void writeOutputs(const ExperimentConfig& cfg, const core::text::TextDataset& ds, const at::Tensor& probs,
                  const std::vector<int64_t>& test, const FitResult& r) {
  fs::create_directories(cfg.run.out_dir);
  const fs::path preds = fs::path(cfg.run.out_dir) / "test_predictions.tsv";
  std::ofstream out(preds);
  out << "line\tsplit\tgold\tpredicted\n";
  const at::Tensor best = probs.argmax(1).contiguous();
  const auto predicted = best.accessor<int64_t, 1>();
  for (int64_t i : test) {
    out << ds.source_line[static_cast<size_t>(i)] << "\ttest\t" << ds.label_names[static_cast<size_t>(ds.labels[static_cast<size_t>(i)])]
        << '\t' << ds.label_names[static_cast<size_t>(predicted[i])] << '\n';
  }
  if (!out) throw Error(preds.string() + ": cannot write");
  nlohmann::json j = {{"model", "corpus_gcn"},        {"test_accuracy", r.test_accuracy},
                      {"best_epoch", r.best_epoch},   {"best_selection_score", r.best_val_accuracy},
                      {"epochs_run", r.epochs_run},   {"seconds", r.seconds},
                      {"stopped_early", r.stopped_early}, {"refit", cfg.corpus.refit}};
  std::ofstream(fs::path(cfg.run.out_dir) / "result.json") << j.dump(2) << '\n';
  core::log::info0("wrote {} and result.json", preds.string());
}

// The GCN's probabilities mixed with those of cfg.corpus.ensemble_checkpoint;
// the weight is chosen, and validation accuracy logged, with held_out: the
// GCN's probabilities from before a refit (probs itself without one). Logs
// both models' accuracy alone and prints the GCN's.
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

// The run's document indices by split and the label of every node.
struct Splits {
  at::Tensor train, val, test, labels;
};

// A GCN trained from the initialisation of run.seed on the documents fit_idx.
// With epochs == 0 it runs up to train.epochs and is kept at the epoch that
// train.select prefers on the validation documents (filling r's epoch fields);
// otherwise it runs exactly `epochs` epochs and is kept at the last.
// Returns its class probabilities [documents, classes].
at::Tensor trainOne(const ExperimentConfig& cfg, const core::model::SymmetricCsr& adj, const Splits& sp,
                    const at::Tensor& fit_idx, int64_t epochs, int64_t classes, int64_t docs, Clock::time_point t0,
                    FitResult& r) {
  const bool select = epochs == 0;
  at::manual_seed(static_cast<uint64_t>(cfg.run.seed));
  core::model::CorpusGcn model(adj.n, cfg.corpus.hidden, classes, cfg.model.dropout);
  auto opt = makeOptimizer(cfg.train, {model.w1, model.w2});
  const bool by_loss = cfg.train.select == SelectKind::kValLoss;
  double best_score = -std::numeric_limits<double>::infinity();
  at::Tensor best_w1, best_w2;
  int64_t stale = 0;
  const int64_t last = select ? cfg.train.epochs : epochs;
  for (int64_t epoch = 1; epoch <= last; ++epoch) {
    model.train();
    opt->zero_grad();
    const at::Tensor logits = model.forward(adj);
    const at::Tensor loss = at::cross_entropy_loss(logits.index_select(0, fit_idx), sp.labels.index_select(0, fit_idx),
                                                   {}, at::Reduction::Mean, -100, cfg.train.label_smoothing);
    loss.backward();
    opt->step();
    if (!select) {
      if (epoch % cfg.train.log_every == 0 || epoch == last) {
        core::log::info0("refit epoch {}/{}: train loss {:.4f} ({:.1f}s)", epoch, last, loss.item<double>(), since(t0));
      }
      continue;
    }
    model.eval();
    torch::NoGradGuard no_grad;
    const Scored v = score(model.forward(adj), sp.val, sp.labels);
    const double s = by_loss ? -v.loss : v.accuracy;
    r.epochs_run = epoch;
    if (s > best_score) {
      best_score = s;
      r.best_epoch = epoch;
      best_w1 = model.w1.detach().clone();
      best_w2 = model.w2.detach().clone();
      stale = 0;
    } else {
      ++stale;
    }
    if (epoch % cfg.train.log_every == 0 || epoch == 1) {
      core::log::info0("epoch {}/{}: train loss {:.4f}, val loss {:.4f}, val acc {:.4f} ({:.1f}s)", epoch,
                       cfg.train.epochs, loss.item<double>(), v.loss, v.accuracy, since(t0));
    }
    if (cfg.train.patience > 0 && stale >= cfg.train.patience) {
      r.stopped_early = true;
      break;
    }
  }
  torch::NoGradGuard no_grad;
  if (select) {
    model.w1.copy_(best_w1);
    model.w2.copy_(best_w2);
  }
  model.eval();
  r.best_val_accuracy = by_loss ? -best_score : best_score;
  return at::softmax(model.forward(adj).narrow(0, 0, docs), 1);
}

}  // namespace

void checkCorpusGcnConfig(const ExperimentConfig& cfg, int launched_ranks) {
  const int64_t layout = cfg.parallel.dp * cfg.parallel.tp * cfg.parallel.pp;
  if (layout > 1 || launched_ranks > 1) {
    throw ConfigError(fmt::format("model.kind=corpus_gcn trains on one process; parallel.dp*tp*pp = {} and {} "
                                  "launched ranks: set parallel.dp, tp and pp to 1 and start it without mpirun",
                                  layout, launched_ranks));
  }
  if (cfg.pretrain.epochs > 0) {
    throw ConfigError("model.kind=corpus_gcn has no pre-training: set pretrain.epochs to 0");
  }
}

FitResult fitCorpusGcn(const ExperimentConfig& cfg) {
  const auto t0 = Clock::now();
  core::text::TextDatasetOptions dopts;
  dopts.empty_documents = cfg.data.empty_documents;
  const core::text::TextDataset ds =
      core::text::TextDataset::load(core::graph::dataFile(cfg.data, cfg.data.corpus, "corpus"),
                                    core::graph::dataFile(cfg.data, cfg.data.labels, "labels"), dopts);
  const core::graph::CorpusGraph graph = buildGraph(cfg, ds);
  const core::model::SymmetricCsr adj = core::model::SymmetricCsr::of(graph);

  std::vector<int64_t> train, val;
  core::graph::splitValidation(ds.indicesOf(core::text::Split::kTrain), cfg.data.val_fraction,
                               static_cast<uint64_t>(cfg.run.seed), &train, &val);
  const std::vector<int64_t> test = ds.indicesOf(core::text::Split::kTest);
  std::vector<int64_t> all_labels(ds.labels);
  all_labels.resize(static_cast<size_t>(graph.numNodes()), 0);  // word and concept nodes: never read
  const Splits sp{longTensor(train), longTensor(val), longTensor(test), longTensor(all_labels)};

  FitResult r;
  at::Tensor probs = trainOne(cfg, adj, sp, sp.train, 0, ds.numClasses(), ds.size(), t0, r);
  at::Tensor held_out = probs;  // predictions on validation documents it never trained on
  if (cfg.corpus.refit) {
    core::log::info0("refit: epoch {} chosen on validation; training on the {} training and validation documents",
                     r.best_epoch, sp.train.numel() + sp.val.numel());
    core::log::info0("test accuracy before the refit: {:.4f}", accuracyOf(probs, sp.test, sp.labels));
    FitResult unused;
    probs = trainOne(cfg, adj, sp, at::cat({sp.train, sp.val}), r.best_epoch, ds.numClasses(), ds.size(), t0, unused);
    r.epochs_run += r.best_epoch;
  }
  r.test_accuracy = accuracyOf(probs, sp.test, sp.labels);
  if (!cfg.corpus.ensemble_checkpoint.empty()) {
    probs = mixWithCheckpoint(cfg, ds, probs, held_out, sp.val, sp.test, sp.labels);
    r.test_accuracy = accuracyOf(probs, sp.test, sp.labels);
  }
  r.steps = r.epochs_run;
  r.seconds = since(t0);
  writeOutputs(cfg, ds, probs, test, r);
  return r;
}

}  // namespace autoglm::trainer
