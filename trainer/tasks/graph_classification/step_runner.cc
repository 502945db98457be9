#include "trainer/tasks/graph_classification/step_runner.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <torch/nn/utils/clip_grad.h>

#include <chrono>
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/error.h"
#include "core/finite.h"
#include "core/log.h"
#include "parallel/pipeline/micro_batches.h"
#include "trainer/optim/grad_norm.h"
#include "trainer/optim/optimizer.h"

namespace autoglm::trainer {

namespace dpar = parallel::data_parallel;

StepRunner::StepRunner(const ExperimentConfig& cfg, const core::graph::GraphStore& store,
                       core::model::GraphClassifier model, parallel::ParallelGrid grid, int64_t steps_per_epoch,
                       parallel::pipeline::StageLink* link)
    : train_(cfg.train),
      pipeline_(cfg.parallel.pipeline),
      grid_(std::move(grid)),
      store_(store),
      model_(std::move(model)) {
  for (const auto& item : model_->named_parameters()) param_names_.push_back(item.key());
  if (cfg.train.embedding_update != EmbeddingUpdate::kDense) {
    for (const std::string& name : model_->useRowSparseGradients()) {
      const auto it = std::find(param_names_.begin(), param_names_.end(), name);
      AUTOGLM_CHECK(it != param_names_.end(), "row-sparse parameter '", name, "' is not a parameter of the model");
      row_sparse_.push_back(it - param_names_.begin());
    }
  }
  if (grid_.layout().dp() > 1) {
    dpar::ReducerOptions ro;
    ro.bucket_bytes = static_cast<int64_t>(cfg.parallel.bucket_mb * 1024.0 * 1024.0);
    ro.mode = cfg.parallel.reducer_mode;
    ro.row_sparse = row_sparse_;
    reducer_ = std::make_unique<dpar::GradientReducer>(model_->parameters(), grid_.dpComm(),
                                                       dpar::compression::makeCompressor(denseRestCompression(cfg)), ro);
    core::log::info0("data parallel over {} ranks: {} gradient buckets ({} MiB cap), compression {}, reducer {}",
                     grid_.layout().dp(), reducer_->numBuckets(), cfg.parallel.bucket_mb,
                     core::enumName(cfg.parallel.compression.type), core::enumName(cfg.parallel.reducer_mode));
  }
  if (link != nullptr) executor_ = std::make_unique<parallel::pipeline::PipelineExecutor>(model_, *link, pipeline_.schedule);
  optimizer_ = makeOptimizer(cfg.train, model_->parameters());
  if (cfg.parallel.compression.freeze_variance) freezeVariance(cfg.parallel.compression);
  if (reducer_ && reducer_->compressor().usesShape()) {
    // onebit shape: adam. Every rank holds the same Adam state (the reduced
    // gradients are identical), and backward does not touch it.
    reducer_->setShapeSource([this, params = model_->parameters()](int64_t i) {
      const at::Tensor v = secondMoment(*optimizer_, params[static_cast<size_t>(i)]);
      return v.defined() ? v.sqrt() : v;
    });
  }
  schedule_.lr = cfg.train.lr;
  schedule_.warmup_steps = cfg.train.warmup_steps;
  schedule_.total_steps = steps_per_epoch * cfg.train.epochs;
  schedule_.kind = cfg.train.schedule;
  schedule_.min_lr_ratio = cfg.train.min_lr_ratio;
}

StepRunner::~StepRunner() = default;

dpar::compression::CompressionConfig StepRunner::denseRestCompression(const ExperimentConfig& cfg) const {
  dpar::compression::CompressionConfig c = cfg.parallel.compression;
  if (row_sparse_.empty() || c.type != dpar::compression::CompressionType::kTopk) return c;
  // topk keeps the number of elements it keeps with dense tables (ratio x
  // every parameter's), now all from the dense rest: with the table out of the
  // buckets, the plain ratio would leave the blocks and head a thirtieth of
  // what they got (and cost R8 0.8 points of accuracy).
  const auto params = model_->parameters();
  double all = 0.0, rest = 0.0;
  for (size_t i = 0; i < params.size(); ++i) {
    all += static_cast<double>(params[i].numel());
    if (std::find(row_sparse_.begin(), row_sparse_.end(), static_cast<int64_t>(i)) == row_sparse_.end()) {
      rest += static_cast<double>(params[i].numel());
    }
  }
  if (rest > 0.0) c.ratio = std::min(1.0, c.ratio * all / rest);
  core::log::info0("topk with row-sparse tables: the dense rest keeps {:.4g} of its gradient per step ({:.4g} of "
                   "every parameter's elements, parallel.compression.ratio)",
                   c.ratio, cfg.parallel.compression.ratio);
  return c;
}

void StepRunner::freezeVariance(const dpar::compression::CompressionConfig& c) {
  // validateExperiment checked the settings. Without data parallelism nothing
  // is compressed, and nothing is frozen.
  if (!reducer_) return;
  if (c.type == dpar::compression::CompressionType::kOnebit && c.shape == dpar::compression::ShapeKind::kUniform) {
    core::log::warn0("parallel.compression.freeze_variance with onebit's uniform shape diverged in the quality "
                     "benchmarks (benchmarks/quality/README.md); pair it with parallel.compression.shape: adam");
  }
  freezeSecondMomentAfter(*optimizer_, c.warmup_steps);
}

core::graph::GraphBatch StepRunner::collate(const std::vector<int64_t>& graphs) const {
  std::vector<core::graph::GraphView> views;
  views.reserve(graphs.size());
  for (int64_t i : graphs) views.push_back(store_.graph(i));
  return core::graph::collate(views);
}

namespace {

// The loss of one batch on one stage holding the whole model. With early
// exit trained jointly, every exit's loss weighted by its depth (exit k of K:
// k / (1 + ... + K)), so the final head keeps the largest share; detached or
// distilled (model_config.h), the last head's loss plus each exit's.
template <class LossFn>
at::Tensor batchLoss(core::model::GraphClassifierImpl& model, const core::graph::GraphBatch& batch,
                     const LossFn& lossOf) {
  using core::model::ExitTraining;
  if (!model.config().early_exit) return lossOf(model.forward(batch), batch);
  const std::vector<at::Tensor> exits = model.forwardExits(batch);
  const ExitTraining how = model.config().exit_training;
  if (how != ExitTraining::kJoint) {
    at::Tensor loss = lossOf(exits.back(), batch);
    const at::Tensor teacher = at::softmax(exits.back().detach(), 1);
    for (size_t k = 0; k + 1 < exits.size(); ++k) {
      at::Tensor l = lossOf(exits[k], batch);
      if (how == ExitTraining::kDistill) {
        l = 0.5 * l - 0.5 * (teacher * at::log_softmax(exits[k], 1)).sum(1).mean();
      }
      loss = loss + l;
    }
    return loss;
  }
  const double total = static_cast<double>(exits.size() * (exits.size() + 1)) / 2.0;
  at::Tensor loss;
  for (size_t k = 0; k < exits.size(); ++k) {
    const at::Tensor l = lossOf(exits[k], batch) * (static_cast<double>(k + 1) / total);
    loss = loss.defined() ? loss + l : l;
  }
  return loss;
}

}  // namespace

double StepRunner::forwardBackward(const std::vector<std::vector<int64_t>>& micro_batches, double scale,
                                   int64_t step) {
  using clock = std::chrono::steady_clock;
  auto secs = [](clock::time_point a, clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
  auto lossOf = [&](const at::Tensor& logits, const core::graph::GraphBatch& batch) {
    return at::cross_entropy_loss(logits, batch.labels, {}, at::Reduction::Sum, -100, train_.label_smoothing) * scale;
  };
  if (executor_) {
    // Each batch cut into micro-batches of about equal edge count; every stage
    // cuts the same way, so each knows what it receives. Empty ones are dropped.
    const auto t0 = clock::now();
    std::vector<core::graph::GraphBatch> micro;
    for (const auto& batch : micro_batches) {
      for (const auto& part : parallel::pipeline::splitByEdges(
               batch, static_cast<int>(pipeline_.micro_batches),
               [&](int64_t g) { return store_.graph(g).num_edges; })) {
        if (!part.empty()) micro.push_back(collate(part));
      }
    }
    const auto t1 = clock::now();
    const double loss = executor_->run(micro, lossOf, reducer_.get(), step, observer_);
    times_.collate += secs(t0, t1);
    times_.backward += secs(t1, clock::now());
    return loss;
  }
  double loss_total = 0.0;
  for (size_t m = 0; m < micro_batches.size(); ++m) {
    const auto t0 = clock::now();
    const core::graph::GraphBatch batch = collate(micro_batches[m]);
    const auto t1 = clock::now();
    phase(parallel::Phase::kForward, step);
    at::Tensor loss = batchLoss(*model_, batch, lossOf);
    const auto t2 = clock::now();
    if (reducer_) reducer_->beginBackward(/*sync=*/m + 1 == micro_batches.size(), step);
    phase(parallel::Phase::kBackward, step);
    loss.backward();
    loss_total += loss.item<double>();
    const auto t3 = clock::now();
    times_.collate += secs(t0, t1);
    times_.forward += secs(t1, t2);
    times_.backward += secs(t2, t3);
  }
  return loss_total;
}

double StepRunner::run(const std::vector<std::vector<int64_t>>& micro_batches, int64_t global_graphs, int64_t step) {
  using clock = std::chrono::steady_clock;
  auto secs = [](clock::time_point a, clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
  AUTOGLM_CHECK(!micro_batches.empty() && global_graphs > 0, "empty training step");
  model_->train();
  optimizer_->zero_grad();
  // Summed loss over this rank's graphs, scaled so that the group average is the
  // mean over the step's global batch.
  const double scale = static_cast<double>(grid_.layout().dp()) / static_cast<double>(global_graphs);
  double loss_total = forwardBackward(micro_batches, scale, step);
  if (grid_.layout().pp() > 1) {  // the loss lives on the last stage
    at::Tensor l = at::full({1}, static_cast<float>(loss_total), at::TensorOptions().dtype(at::kFloat));
    grid_.pp().broadcast(l, {grid_.layout().pp() - 1})->wait();
    loss_total = l.item<float>();
  }
  const auto t3 = clock::now();
  phase(parallel::Phase::kReduce, step);
  const parallel::data_parallel::StepStatus status = reducer_ ? reducer_->finishStep() : parallel::data_parallel::StepStatus{};
  coalesceRowSparse();
  std::optional<std::string> bad = nonfiniteGradient(status);
  double norm = 0.0;
  if (grid_.modelParallel()) {
    // One norm over the whole layout: every rank clips, skips or stops alike.
    norm = layoutGradNorm(*model_, &grid_.tp(), &grid_.pp(), bad.has_value());
    if (!std::isfinite(norm) && !bad) bad = std::string();
  }
  const auto t4 = clock::now();
  if (bad) {
    const std::string what = bad->empty() ? "a gradient on another rank" : "the gradient of '" + *bad + "'";
    if (train_.nonfinite == NonfiniteMode::kError) {
      throw Error(detail::concat("step ", step + 1, ": ", what, " is not finite (NaN or inf); lower train.lr (now ",
                                 train_.lr, "), set train.grad_clip, or set train.nonfinite: skip_step"));
    }
    ++skipped_steps_;
    core::log::warn0("step {}: {} is not finite; the step is skipped (train.nonfinite: skip_step, {} so far)", step + 1,
                     what, skipped_steps_);
    times_.sync += secs(t3, t4);
    return loss_total;
  }
  phase(parallel::Phase::kOptimizer, step);
  if (train_.grad_clip > 0) {
    if (grid_.modelParallel()) {
      clipToNorm(*model_, norm, train_.grad_clip);
    } else if (!row_sparse_.empty()) {  // LibTorch's clip sees sparse gradients' values only
      clipToNorm(*model_, layoutGradNorm(*model_, nullptr, nullptr, false), train_.grad_clip);
    } else {
      torch::nn::utils::clip_grad_norm_(model_->parameters(), train_.grad_clip);
    }
  }
  setLearningRate(*optimizer_, schedule_.at(step));
  optimizer_->step();
  const auto t5 = clock::now();
  times_.sync += secs(t3, t4);
  times_.optimizer += secs(t4, t5);
  if (!std::isfinite(loss_total)) {
    throw Error(detail::concat("training diverged: loss is ", loss_total, " at step ", step + 1,
                               "; lower train.lr (now ", train_.lr, ") or set train.grad_clip"));
  }
  return loss_total;
}

void StepRunner::coalesceRowSparse() {
  // Autograd sums a table's sparse gradients by concatenation; without a
  // reducer (or with reducer_mode: off) repeated rows are summed here, so that
  // norms, checks and the optimizer see each row once.
  const auto params = model_->parameters();
  for (int64_t i : row_sparse_) {
    at::Tensor& g = params[static_cast<size_t>(i)].mutable_grad();
    if (g.defined() && g.is_sparse() && !g.is_coalesced()) g = g.coalesce();
  }
}

std::optional<std::string> StepRunner::nonfiniteGradient(const parallel::data_parallel::StepStatus& status) const {
  if (reducer_) {
    if (!status.nonfinite) return std::nullopt;
    if (status.nonfinite_param < 0) return std::string();
    return param_names_.at(static_cast<size_t>(status.nonfinite_param));
  }
  const auto params = model_->parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    const at::Tensor& g = params[i].grad();
    if (g.defined() && !core::allFinite(gradValues(g))) return param_names_[i];
  }
  return std::nullopt;
}

}  // namespace autoglm::trainer
