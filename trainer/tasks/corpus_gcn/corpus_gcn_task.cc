#include "trainer/tasks/corpus_gcn/corpus_gcn_task.h"

#include <fmt/format.h>
#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <torch/autograd.h>
#include <torch/optim/optimizer.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/graph/prepared_data.h"
#include "core/log.h"
#include "core/text/tokenizer.h"
#include "trainer/optim/optimizer.h"
#include "trainer/tasks/corpus_gcn/ensemble.h"

namespace autoglm::trainer {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

at::Tensor longTensor(const std::vector<int64_t>& v) {
  return at::tensor(at::ArrayRef<int64_t>(v), at::TensorOptions().dtype(at::kLong));
}

core::text::TextDataset loadDataset(const ExperimentConfig& cfg) {
  core::text::TextDatasetOptions dopts;
  dopts.empty_documents = cfg.data.empty_documents;
  return core::text::TextDataset::load(core::graph::dataFile(cfg.data, cfg.data.corpus, "corpus"),
                                       core::graph::dataFile(cfg.data, cfg.data.labels, "labels"), dopts);
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

void writeOutputs(const ExperimentConfig& cfg, const core::text::TextDataset& ds, const at::Tensor& probs,
                  const at::Tensor& test, const FitResult& r) {
  fs::create_directories(cfg.run.out_dir);
  const fs::path preds = fs::path(cfg.run.out_dir) / "test_predictions.tsv";
  std::ofstream out(preds);
  out << "line\tsplit\tgold\tpredicted\n";
  const at::Tensor best = probs.argmax(1).contiguous();
  const auto predicted = best.accessor<int64_t, 1>();
  const at::Tensor test_ids = test.contiguous();
  for (int64_t k = 0; k < test_ids.numel(); ++k) {
    const int64_t i = test_ids[k].item<int64_t>();
    out << ds.source_line[static_cast<size_t>(i)] << "\ttest\t"
        << ds.label_names[static_cast<size_t>(ds.labels[static_cast<size_t>(i)])] << '\t'
        << ds.label_names[static_cast<size_t>(predicted[i])] << '\n';
  }
  if (!out) throw Error(preds.string() + ": cannot write");
  nlohmann::json j = {{"model", "corpus_gcn"},        {"test_accuracy", r.test_metric},
                      {"best_epoch", r.best_epoch},   {"best_selection_score", r.best_score},
                      {"epochs_run", r.epochs_run},   {"seconds", r.seconds},
                      {"stopped_early", r.stopped_early}, {"refit", cfg.corpus.refit}};
  std::ofstream(fs::path(cfg.run.out_dir) / "result.json") << j.dump(2) << '\n';
  core::log::info0("wrote {} and result.json", preds.string());
}

}  // namespace

void validateCorpusGcn(const ExperimentConfig& cfg, const RunRequest&) {
  if (cfg.pretrain.epochs > 0) throw ConfigError("model.kind=corpus_gcn has no pre-training: set pretrain.epochs to 0");
  if (cfg.train.embedding_update != EmbeddingUpdate::kDense) {
    throw ConfigError("model.kind=corpus_gcn has no token embedding: train.embedding_update must be dense");
  }
}

CorpusGcnTask::CorpusGcnTask(const ExperimentConfig& cfg)
    : cfg_(cfg), t0_(Clock::now()), ds_(loadDataset(cfg)), graph_(buildGraph(cfg, ds_)),
      adj_(core::model::SymmetricCsr::of(graph_)) {
  std::vector<int64_t> train, val;
  core::graph::splitValidation(ds_.indicesOf(core::text::Split::kTrain), cfg.data.val_fraction,
                               static_cast<uint64_t>(cfg.run.seed), &train, &val);
  std::vector<int64_t> all_labels(ds_.labels);
  all_labels.resize(static_cast<size_t>(graph_.numNodes()), 0);  // word and concept nodes: never read
  sp_ = {longTensor(train), longTensor(val), longTensor(ds_.indicesOf(core::text::Split::kTest)),
         longTensor(all_labels)};
  initModel();
}

CorpusGcnTask::~CorpusGcnTask() = default;

void CorpusGcnTask::initModel() {
  at::manual_seed(static_cast<uint64_t>(cfg_.run.seed));
  opt_.reset();
  model_ = std::make_unique<core::model::CorpusGcn>(adj_.n, cfg_.corpus.hidden, ds_.numClasses(), cfg_.model.dropout);
  opt_ = makeOptimizer(cfg_.train, {model_->w1, model_->w2});
}

double CorpusGcnTask::fitStep(const at::Tensor& fit_idx) {
  model_->train();
  opt_->zero_grad();
  const at::Tensor logits = model_->forward(adj_);
  const at::Tensor loss = at::cross_entropy_loss(logits.index_select(0, fit_idx), sp_.labels.index_select(0, fit_idx),
                                                 {}, at::Reduction::Mean, -100, cfg_.train.label_smoothing);
  loss.backward();
  opt_->step();
  return loss.item<double>();
}

double CorpusGcnTask::trainStep(int64_t, int64_t, int64_t, int64_t) { return fitStep(sp_.train); }

Scores CorpusGcnTask::evaluate() {
  model_->eval();
  torch::NoGradGuard no_grad;
  const at::Tensor logits = model_->forward(adj_);
  Scores s;
  s.has_validation = sp_.val.numel() > 0;
  if (s.has_validation) {
    s.val_loss = at::cross_entropy_loss(logits.index_select(0, sp_.val), sp_.labels.index_select(0, sp_.val))
                     .item<double>();
    s.val_metric = accuracyOf(logits, sp_.val, sp_.labels);
  }
  return s;
}

std::string CorpusGcnTask::epochLine(const EpochReport& r) const {
  if (r.epoch % cfg_.train.log_every != 0 && r.epoch != 1) return "";
  return fmt::format("epoch {}/{}: train loss {:.4f}, val loss {:.4f}, val acc {:.4f} ({:.1f}s)", r.epoch, r.epochs,
                     r.train_loss, r.scores.val_loss, r.scores.val_metric, since(t0_));
}

nlohmann::json CorpusGcnTask::epochMetrics(const EpochReport& r) const {
  return {{"train_loss", r.train_loss}, {"val_loss", r.scores.val_loss}, {"val_accuracy", r.scores.val_metric}};
}

void CorpusGcnTask::keepBest(const TrainState&) {
  best_w1_ = model_->w1.detach().clone();
  best_w2_ = model_->w2.detach().clone();
}

at::Tensor CorpusGcnTask::probabilities() {
  torch::NoGradGuard no_grad;
  model_->eval();
  return at::softmax(model_->forward(adj_).narrow(0, 0, ds_.size()), 1);
}

void CorpusGcnTask::refit(const at::Tensor& fit_idx, int64_t epochs) {
  initModel();
  for (int64_t epoch = 1; epoch <= epochs; ++epoch) {
    const double loss = fitStep(fit_idx);
    if (epoch % cfg_.train.log_every == 0 || epoch == epochs) {
      core::log::info0("refit epoch {}/{}: train loss {:.4f} ({:.1f}s)", epoch, epochs, loss, since(t0_));
    }
  }
}

void CorpusGcnTask::finish(const TrainState& state, FitResult* r) {
  {
    torch::NoGradGuard no_grad;
    model_->w1.copy_(best_w1_);
    model_->w2.copy_(best_w2_);
  }
  at::Tensor probs = probabilities();
  const at::Tensor held_out = probs;  // predictions on validation documents it never trained on
  if (cfg_.corpus.refit) {
    core::log::info0("refit: epoch {} chosen on validation; training on the {} training and validation documents",
                     state.best_epoch, sp_.train.numel() + sp_.val.numel());
    core::log::info0("test accuracy before the refit: {:.4f}", accuracyOf(probs, sp_.test, sp_.labels));
    refit(at::cat({sp_.train, sp_.val}), state.best_epoch);
    probs = probabilities();
    r->epochs_run += state.best_epoch;
    r->steps += state.best_epoch;
  }
  r->test_metric = accuracyOf(probs, sp_.test, sp_.labels);
  if (!cfg_.corpus.ensemble_checkpoint.empty()) {
    probs = mixWithCheckpoint(cfg_, ds_, probs, held_out, sp_.val, sp_.test, sp_.labels);
    r->test_metric = accuracyOf(probs, sp_.test, sp_.labels);
  }
  r->seconds = since(t0_);
  writeOutputs(cfg_, ds_, probs, sp_.test, *r);
}

}  // namespace autoglm::trainer
