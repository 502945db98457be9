#include "trainer/tasks/pretrain/pretrainer.h"

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
#include "trainer/observe/progress.h"
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

std::string Pretrainer::runDir(const ExperimentConfig& cfg) { return (fs::path(cfg.run.out_dir) / "pretrain").string(); }

Pretrainer::Pretrainer(const ExperimentConfig& cfg, const core::graph::PreparedData& data) : cfg_(cfg), data_(data) {
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

Pretrainer::~Pretrainer() = default;

double Pretrainer::step(const std::vector<int64_t>& batch, std::mt19937_64& gen) {
  core::graph::AugmentOptions o;
  o.edge_drop = cfg_.pretrain.edge_drop;
  o.node_mask = cfg_.pretrain.node_mask;
  o.mask_token = core::text::Vocab::kUnk;
  // Views 1 of every graph, then views 2: one batch of 2B graphs, one forward.
  const size_t b = batch.size();
  std::vector<core::graph::Graph> views(2 * b);
  for (size_t i = 0; i < b; ++i) {
    const core::graph::GraphView g = data_.store.graph(batch[i]);
    views[i] = core::graph::augment(g, o, gen);
    views[b + i] = core::graph::augment(g, o, gen);
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

PretrainEpoch Pretrainer::runEpoch(int64_t epoch) {
  std::vector<int64_t> order = indices_;
  std::mt19937_64 shuffle(epochSeed(cfg_.run.seed, epoch, 1));
  std::shuffle(order.begin(), order.end(), shuffle);
  std::mt19937_64 views(epochSeed(cfg_.run.seed, epoch, 2));
  const auto bs = static_cast<size_t>(cfg_.pretrain.batch_graphs);
  const int64_t batches = static_cast<int64_t>((order.size() + bs - 1) / bs);
  Progress progress(detail::concat("pretrain epoch ", epoch + 1, "/", cfg_.pretrain.epochs), batches,
                    cfg_.train.progress);
  PretrainEpoch e;
  double loss_sum = 0.0;
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t first = 0, k = 0; first < order.size(); first += bs, ++k) {
    const std::vector<int64_t> batch(order.begin() + static_cast<std::ptrdiff_t>(first),
                                     order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), first + bs)));
    if (batch.size() < 2) continue;  // no negatives
    loss_sum += step(batch, views);
    ++e.steps;
    e.graphs += static_cast<int64_t>(batch.size());
    e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    progress.update(static_cast<int64_t>(k) + 1, fmt::format("loss {:.4f} {:.0f} graphs/s",
                                                             loss_sum / static_cast<double>(e.steps), e.graphsPerSecond()));
  }
  progress.finish();
  e.loss = e.steps > 0 ? loss_sum / static_cast<double>(e.steps) : 0.0;
  core::log::info0("pretrain epoch {}/{}: InfoNCE loss {:.4f}, {} graphs, {:.0f} graphs/s ({:.1f}s)", epoch + 1,
                   cfg_.pretrain.epochs, e.loss, e.graphs, e.graphsPerSecond(), e.seconds);
  return e;
}

std::string Pretrainer::save() {
  CheckpointManager manager((fs::path(runDir(cfg_)) / "checkpoints").string(), cfg_.train.keep_checkpoints);
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

PretrainResult Pretrainer::run() {
  if (cfg_.pretrain.epochs < 1) {
    throw ConfigError("pretrain.epochs=0: nothing to pre-train; set pretrain.epochs (e.g. --set pretrain.epochs=5)");
  }
  int64_t params = 0;
  for (const auto& p : params_) params += p.numel();
  core::log::info0("pre-training the encoder on {} graphs (pretrain.splits={}), {} parameters with the projection "
                   "head, {} epochs", indices_.size(), core::enumName(cfg_.pretrain.splits), params,
                   cfg_.pretrain.epochs);
  PretrainResult r;
  for (int64_t e = 0; e < cfg_.pretrain.epochs; ++e) r.epochs.push_back(runEpoch(e));
  r.steps = steps_;
  r.checkpoint = save();
  core::log::info0("wrote the pre-trained checkpoint {}", r.checkpoint);
  return r;
}

}  // namespace autoglm::trainer
