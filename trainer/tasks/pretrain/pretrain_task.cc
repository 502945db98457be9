#include "trainer/tasks/pretrain/pretrain_task.h"

#include <fmt/format.h>

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adam.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "core/error.h"
#include "core/graph/augment.h"
#include "core/log.h"
#include "trainer/checkpoint/checkpoint.h"
#include "trainer/tasks/graph_classification/model_builder.h"
#include "trainer/optim/optimizer.h"
#include "trainer/checkpoint/rank_state.h"
#include "trainer/checkpoint/sharded_checkpoint.h"
#include "trainer/loop/train_state.h"

namespace autoglm::trainer {
namespace fs = std::filesystem;

namespace {

// A stream per (run.seed, epoch, purpose), so epochs are reproducible alone.
uint64_t epochSeed(int64_t seed, int64_t epoch, uint64_t purpose) {
  uint64_t z = static_cast<uint64_t>(seed) * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch) * 0xBF58476D1CE4E5B9ull +
               purpose;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The encoder's parameters: every part but the classification and exit heads.
bool encoderParameter(const std::string& name) {
  return name.rfind("head.", 0) != 0 && name.rfind("exit", 0) != 0;
}

}  // namespace

PretrainTask::PretrainTask(const ExperimentConfig& cfg, const core::graph::PreparedData& data)
    : cfg_(cfg), data_(data) {
  const int64_t layout = cfg.parallel.dp * cfg.parallel.tp * cfg.parallel.pp;
  if (layout > 1) {
    throw ConfigError(fmt::format("pretrain: pre-training runs on one process, but parallel.dp*parallel.tp*parallel.pp "
                                  "= {}*{}*{} = {}; set parallel.dp=1 parallel.tp=1 parallel.pp=1 for "
                                  "`autoglm pretrain`, then train in parallel with --init-from",
                                  cfg.parallel.dp, cfg.parallel.tp, cfg.parallel.pp, layout));
  }
  // The training graphs as the trainer carves them (the embedding's PPMI
  // initialisation reads them, as in training).
  std::vector<int64_t> train, val;
  core::graph::splitValidation(data.indicesOf(core::text::Split::kTrain), cfg.data.val_fraction,
                               static_cast<uint64_t>(cfg.run.seed), &train, &val);
  if (cfg.pretrain.splits == PretrainSplits::kTrain) {
    indices_ = train;
  } else {
    indices_.resize(static_cast<size_t>(data.store.size()));
    std::iota(indices_.begin(), indices_.end(), int64_t{0});
  }
  if (indices_.size() < 2) {
    throw DataError(fmt::format("{}: pre-training needs at least 2 graphs in pretrain.splits={} (found {})",
                                data.cache_path, core::enumName(cfg.pretrain.splits), indices_.size()));
  }
  model_ = buildModel(cfg_, data, train, parallel::ParallelGrid::alone()).model;
  model_->eval();  // the parts' own dropout off: pretrain.* sets the views' noise
  proj_ = core::model::ProjectionHead(core::model::encoderDim(*model_), cfg.pretrain.proj_dim);
  for (const auto& p : model_->named_parameters()) {
    if (encoderParameter(p.key())) params_.push_back(p.value());
  }
  for (const auto& p : proj_->parameters()) params_.push_back(p);
  optimizer_ = std::make_unique<FusedAdam>(params_, torch::optim::AdamOptions(cfg.pretrain.lr));
}

PretrainTask::~PretrainTask() = default;

double PretrainTask::step(const std::vector<int64_t>& batch) {
  core::graph::AugmentOptions o;
  o.edge_drop = cfg_.pretrain.edge_drop;
  o.node_mask = cfg_.pretrain.node_mask;
  o.mask_token = core::text::Vocab::kUnk;
  // Views 1 of every graph, then views 2: one batch of 2B graphs, one forward.
  const size_t b = batch.size();
  std::vector<core::graph::Graph> views(2 * b);
  for (size_t i = 0; i < b; ++i) {
    const core::graph::GraphView g = data_.store.graph(batch[i]);
    views[i] = core::graph::augment(g, o, views_);
    views[b + i] = core::graph::augment(g, o, views_);
  }
  std::vector<core::graph::GraphView> refs;
  refs.reserve(views.size());
  for (const auto& v : views) refs.push_back(v.view());
  const core::graph::GraphBatch g = core::graph::collate(refs);
  optimizer_->zero_grad();
  const at::Tensor z = proj_->forward(core::model::encodeGraphs(*model_, g, cfg_.pretrain.feature_dropout));
  const auto n = static_cast<int64_t>(b);
  at::Tensor loss = core::model::infoNceLoss(z.narrow(0, 0, n), z.narrow(0, n, n), cfg_.pretrain.temperature);
  const double value = loss.item<double>();
  if (!std::isfinite(value)) {
    throw Error(fmt::format("pretrain: step {}: the InfoNCE loss is {}; lower pretrain.lr or raise "
                            "pretrain.temperature (now {})", steps_ + 1, value, cfg_.pretrain.temperature));
  }
  loss.backward();
  if (cfg_.train.grad_clip > 0) torch::nn::utils::clip_grad_norm_(params_, cfg_.train.grad_clip);
  optimizer_->step();
  ++steps_;
  return value;
}

EpochPlan PretrainTask::planEpoch(int64_t epoch) {
  std::vector<int64_t> order = indices_;
  std::mt19937_64 shuffle(epochSeed(cfg_.run.seed, epoch, 1));
  std::shuffle(order.begin(), order.end(), shuffle);
  views_.seed(epochSeed(cfg_.run.seed, epoch, 2));
  const auto bs = static_cast<size_t>(cfg_.pretrain.batch_graphs);
  EpochPlan plan;
  batches_.clear();
  for (size_t first = 0; first < order.size(); first += bs) {
    std::vector<int64_t> batch(order.begin() + static_cast<std::ptrdiff_t>(first),
                               order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), first + bs)));
    if (batch.size() < 2) continue;  // no negatives
    plan.global_items.push_back(static_cast<int64_t>(batch.size()));
    batches_.push_back(std::move(batch));
  }
  epochs_.emplace_back();
  loss_sum_ = 0.0;
  epoch_start_ = std::chrono::steady_clock::now();
  return plan;
}

double PretrainTask::trainStep(int64_t first, int64_t last, int64_t, int64_t) {
  double loss = 0.0;
  for (int64_t b = first; b < last; ++b) {
    const std::vector<int64_t>& batch = batches_.at(static_cast<size_t>(b));
    const double l = step(batch);
    loss += l;
    loss_sum_ += l;
    PretrainEpoch& e = epochs_.back();
    ++e.steps;
    e.graphs += static_cast<int64_t>(batch.size());
    e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start_).count();
  }
  return loss;
}

Scores PretrainTask::evaluate() {
  PretrainEpoch& e = epochs_.back();
  e.loss = e.steps > 0 ? loss_sum_ / static_cast<double>(e.steps) : 0.0;
  Scores s;
  s.has_validation = false;
  return s;
}

std::string PretrainTask::epochLine(const EpochReport& r) const {
  const PretrainEpoch& e = epochs_.back();
  return fmt::format("pretrain epoch {}/{}: InfoNCE loss {:.4f}, {} graphs, {:.0f} graphs/s ({:.1f}s)", r.epoch,
                     r.epochs, e.loss, e.graphs, e.graphsPerSecond(), e.seconds);
}

nlohmann::json PretrainTask::epochMetrics(const EpochReport& r) const {
  const PretrainEpoch& e = epochs_.back();
  return {{"train_loss", e.loss}, {"graphs_per_s", e.graphsPerSecond()}, {"epoch_seconds", r.seconds}};
}

std::string PretrainTask::save() {
  CheckpointManager manager((fs::path(cfg_.run.out_dir) / "pretrain" / "checkpoints").string(),
                            cfg_.train.keep_checkpoints);
  TrainState state;  // where pre-training stands; a run started from it begins afresh
  state.step = steps_;
  state.epoch = cfg_.pretrain.epochs;
  state.num_classes = static_cast<int64_t>(data_.label_names.size());
  state.vocab_size = data_.vocab.size();
  state.compression = cfg_.parallel.compression.type;
  CheckpointPayload p;
  p.state = state.toJson();
  p.vocab_tokens = data_.vocab.tokens();
  p.label_names = data_.label_names;
  p.config_yaml = cfg_.toYaml();
  const parallel::ParallelGrid single = parallel::ParallelGrid::alone();
  ShardedSave s;
  s.grid = &single;
  s.model = model_.get();
  s.optimizer = nullptr;  // a run started from it gets a fresh optimizer
  s.layout = CheckpointLayout{1, 1, 1, state.compression};
  s.rank_state = saveRankState(nullptr, cfg_.parallel.compression.type);
  return saveShardedCheckpoint(manager, fmt::format("step-{:08d}", steps_), std::move(p), s);
}

std::string PretrainTask::describe() const {
  int64_t params = 0;
  for (const auto& p : params_) params += p.numel();
  return fmt::format("pre-training the encoder on {} graphs (pretrain.splits={}), {} parameters with the projection "
                     "head, {} epochs", indices_.size(), core::enumName(cfg_.pretrain.splits), params,
                     cfg_.pretrain.epochs);
}

void PretrainTask::finish(const TrainState&, FitResult* result) {
  checkpoint_ = save();
  result->test_metric = epochs_.empty() ? 0.0 : epochs_.back().loss;
  core::log::info0("wrote the pre-trained checkpoint {}", checkpoint_);
}

}  // namespace autoglm::trainer
