#include "trainer/tasks/kg_completion/kg_task.h"

#include <fmt/format.h>
#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>
#include <torch/optim/optimizer.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "comm/chunked_bytes.h"
#include "core/error.h"
#include "core/log.h"
#include "core/splitmix.h"
#include "parallel/data_parallel/distributed_sampler.h"
#include "parallel/data_parallel/row_sparse.h"
#include "parallel/tensor_parallel/row_sharded.h"
#include "parallel/tensor_parallel/tp_ops.h"
#include "trainer/optim/optimizer.h"
#include "trainer/checkpoint/shared_dir.h"
#include "trainer/tasks/kg_completion/kg_checkpoint.h"
#include "trainer/tasks/kg_completion/kg_inference.h"
#include "trainer/tasks/kg_completion/kg_memory.h"

namespace autoglm::trainer {
namespace fs = std::filesystem;
namespace tp_ops = parallel::tensor_parallel;
using core::kg::KgSplit;
using core::kg::KgTraining;
using core::kg::Triple;

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

at::Tensor longTensor(const std::vector<int64_t>& v) {
  return at::tensor(at::ArrayRef<int64_t>(v), at::TensorOptions().dtype(at::kLong));
}

// The negatives of global step `step`: the same ids on every rank.
at::Tensor negativesOf(uint64_t seed, int64_t step, int64_t count, int64_t entities) {
  std::mt19937_64 rng(core::splitmix64(seed * 1000003ull + 0x6e656773ull + static_cast<uint64_t>(step)));
  std::vector<int64_t> ids(static_cast<size_t>(count));
  for (auto& id : ids) id = static_cast<int64_t>(rng() % static_cast<uint64_t>(entities));
  return longTensor(ids);
}

}  // namespace

void validateKgCompletion(const ExperimentConfig& cfg, const RunRequest&) {
  const auto& kg = cfg.kg;
  if (kg.data_dir.empty()) throw ConfigError("kg.data_dir: model.kind=kg_completion needs a knowledge-graph directory");
  if (cfg.parallel.pp > 1) {
    throw ConfigError(fmt::format("parallel.pp={}: kg_completion has no layers to pipeline; shard the entity table "
                                  "with parallel.tp and split the triples with parallel.dp", cfg.parallel.pp));
  }
  if (kg.training == KgTraining::kOneVsAll && !core::kg::ScoreFunction(kg.score, kg.dim, kg.gamma).bilinear()) {
    throw ConfigError(fmt::format("kg.training=one_vs_all needs a score that is one matrix product against the "
                                  "table (complex, transe_l2); {} trains with kg.training=negative",
                                  core::enumName(kg.score)));
  }
  if (kg.n3 > 0 && kg.score == core::kg::KgScore::kRotatE) {
    throw ConfigError("kg.n3 does not apply to rotate (its relations are phases): set kg.n3 to 0");
  }
  if (cfg.train.grad_accumulation != 1) throw ConfigError("train.grad_accumulation: kg_completion takes 1 (raise kg.batch)");
  if (cfg.train.grad_clip != 0.0) throw ConfigError("train.grad_clip: kg_completion does not clip gradients; set 0");
  if (cfg.train.select != SelectKind::kValAccuracy) {
    throw ConfigError("train.select: kg_completion selects by the validation MRR; set val_accuracy (the task's metric)");
  }
  if (cfg.pretrain.epochs > 0) throw ConfigError("pretrain.epochs: kg_completion has no pre-training; set 0");
  if (kg.batch < cfg.parallel.dp) {
    throw ConfigError(fmt::format("kg.batch={} is below parallel.dp={}: every rank needs triples", kg.batch,
                                  cfg.parallel.dp));
  }
}

KgTask::KgTask(const ExperimentConfig& cfg, parallel::ParallelGrid grid)
    : cfg_(cfg), grid_(std::move(grid)), t0_(Clock::now()), data_(core::kg::KgDataset::load(cfg.kg.data_dir)),
      ckpt_((fs::path(cfg.run.out_dir) / "checkpoints").string(), cfg.train.keep_checkpoints) {
  relation_rows_ = cfg.kg.reciprocal ? 2 * data_.numRelations() : data_.numRelations();
  train_size_ = static_cast<int64_t>(data_.train().size()) * (cfg.kg.reciprocal ? 2 : 1);
  if (grid_.tp().size() > data_.numEntities()) {
    throw ConfigError(fmt::format("parallel.tp={} is above the {} entities of {}", grid_.tp().size(),
                                  data_.numEntities(), cfg.kg.data_dir));
  }
  checkKgMemory(cfg_, data_, grid_);
  filter_ = kgFilter(cfg_.kg.filter, data_);
  model_ = std::make_unique<KgModel>(cfg_.kg, data_.numEntities(), relation_rows_, static_cast<uint64_t>(cfg.run.seed),
                                     grid_.tp().rank(), grid_.tp().size());
  opt_ = makeOptimizer(cfg_.train, {model_->entities(), model_->relations()});
  const int64_t steps_per_epoch = (train_size_ + cfg.kg.batch - 1) / cfg.kg.batch;
  schedule_.lr = cfg.train.lr;
  schedule_.warmup_steps = cfg.train.warmup_steps;
  schedule_.total_steps = steps_per_epoch * cfg.train.epochs;
  schedule_.kind = cfg.train.schedule;
  schedule_.min_lr_ratio = cfg.train.min_lr_ratio;
  if (grid_.tp().size() > 1) {
    checkSharedDir(grid_.world(), ckpt_.dir(), cfg.run.out_dir, fmt::format("parallel.tp={}", grid_.tp().size()));
  }
}

KgTask::~KgTask() = default;

std::string KgTask::describe() const {
  return fmt::format("training {} triples ({} with reciprocals) of {}: {} entities, {} relations; {} d={} {} "
                     "({:.1f} M parameters, {} entity rows on this rank)",
                     data_.train().size(), train_size_, cfg_.kg.data_dir, data_.numEntities(), data_.numRelations(),
                     core::enumName(cfg_.kg.score), cfg_.kg.dim, core::enumName(cfg_.kg.training),
                     static_cast<double>(model_->numParameters()) / 1e6, model_->rows());
}

Triple KgTask::trainingTriple(int64_t i) const {
  const int64_t n = static_cast<int64_t>(data_.train().size());
  const Triple& t = data_.train()[static_cast<size_t>(i % n)];
  return i < n ? t : Triple{t.tail, t.relation + data_.numRelations(), t.head};
}

EpochPlan KgTask::planEpoch(int64_t epoch) {
  std::vector<int64_t> all(static_cast<size_t>(train_size_));
  for (int64_t i = 0; i < train_size_; ++i) all[static_cast<size_t>(i)] = i;
  parallel::data_parallel::SamplerOptions so;
  so.seed = static_cast<uint64_t>(cfg_.run.seed);
  const std::vector<int64_t> order = parallel::data_parallel::DistributedSampler(std::move(all), so).epochOrder(epoch);
  const int dp = grid_.dp().size(), me = grid_.dp().rank();
  batches_.clear();
  global_sizes_.clear();
  EpochPlan plan;
  for (int64_t b0 = 0; b0 < train_size_; b0 += cfg_.kg.batch) {
    const int64_t n = std::min(cfg_.kg.batch, train_size_ - b0);
    const int64_t first = b0 + tp_ops::partitionOffset(n, dp, me);
    const int64_t count = tp_ops::partitionSizes(n, dp)[static_cast<size_t>(me)];
    batches_.emplace_back(order.begin() + first, order.begin() + first + count);
    global_sizes_.push_back(n);
    plan.global_items.push_back(n);
  }
  planned_epoch_ = epoch;
  return plan;
}

double KgTask::stepOn(const std::vector<int64_t>& mine, int64_t global, int64_t step) {
  const auto& kg = cfg_.kg;
  comm::Communicator& tp = grid_.tp();
  std::vector<int64_t> h, r, t;
  for (const int64_t i : mine) {
    const Triple x = trainingTriple(i);
    h.push_back(x.head);
    r.push_back(x.relation);
    t.push_back(x.tail);
  }
  const int64_t b = static_cast<int64_t>(mine.size());
  const at::Tensor heads = longTensor(h), tails = longTensor(t);
  const at::Tensor rel = at::embedding(model_->relations(), longTensor(r));
  const bool negative = kg.training == KgTraining::kNegative;
  const at::Tensor negs = negative ? negativesOf(static_cast<uint64_t>(cfg_.run.seed), step, kg.negatives,
                                                 data_.numEntities())
                                   : at::empty({0}, at::kLong);
  const at::Tensor rows = model_->lookup(at::cat({heads, tails, negs}), tp);
  const at::Tensor hr = rows.narrow(0, 0, b), tr = rows.narrow(0, b, b);
  const auto& fn = model_->fn();
  at::Tensor loss_sum;
  if (!negative) {
    const at::Tensor q = tp_ops::copyToTensorParallel(fn.query(hr, rel, false), tp);
    const at::Tensor logits = fn.against(q, model_->entities());
    loss_sum = tp_ops::shardedCrossEntropy(logits, tails, model_->offset(), tp).sum();
  } else {
    const bool predict_head = !kg.reciprocal && step % 2 == 1;
    const at::Tensor q = predict_head ? fn.query(tr, rel, true) : fn.query(hr, rel, false);
    const at::Tensor pos = fn.paired(q, predict_head ? hr : tr);
    const at::Tensor neg = fn.against(q, rows.narrow(0, 2 * b, kg.negatives));
    const at::Tensor w = kg.adversarial_temperature > 0
                             ? at::softmax(neg * kg.adversarial_temperature, 1).detach()
                             : at::full_like(neg, 1.0 / static_cast<double>(kg.negatives));
    loss_sum = 0.5 * (-at::log_sigmoid(pos).sum() - (w * at::log_sigmoid(-neg)).sum());
  }
  at::Tensor loss = loss_sum;
  if (kg.n3 > 0) loss = loss + kg.n3 * fn.n3(hr, rel, tr);
  // The dp average of the ranks' gradients is the global batch's mean.
  (loss * (static_cast<double>(grid_.dp().size()) / static_cast<double>(global))).backward();
  return b > 0 ? loss.item<double>() / static_cast<double>(b) : 0.0;
}

void KgTask::reduceGradients() {
  comm::Communicator& dp = grid_.dp();
  if (dp.size() == 1) return;
  for (at::Tensor* p : {&model_->entities(), &model_->relations()}) {
    at::Tensor g = p->mutable_grad();
    if (g.defined() && g.is_sparse()) {
      parallel::data_parallel::RowSparseStats stats;
      p->mutable_grad() = parallel::data_parallel::reduceRowSparse(g, p->sizes(), dp, 1.0, stats);
    } else {
      at::Tensor dense = g.defined() ? g.contiguous() : at::zeros_like(*p);
      dp.allreduce(dense, {comm::ReduceOp::kAvg})->wait();
      p->mutable_grad() = dense;
    }
  }
}

double KgTask::trainStep(int64_t first, int64_t last, int64_t items, int64_t step) {
  AUTOGLM_CHECK(last == first + 1, "kg_completion steps one batch at a time");
  (void)items;
  opt_->zero_grad();
  setLearningRate(*opt_, schedule_.at(step));
  const double loss = stepOn(batches_[static_cast<size_t>(first)], global_sizes_[static_cast<size_t>(first)], step);
  reduceGradients();
  opt_->step();
  return loss;
}

double KgTask::meanOverRanks(double loss_sum) {
  if (grid_.dp().size() == 1) return loss_sum;
  at::Tensor t = at::tensor({static_cast<float>(loss_sum)}, at::kFloat);
  grid_.dp().allreduce(t, {comm::ReduceOp::kAvg})->wait();
  return t.item<double>();
}

bool KgTask::anyRank(bool local) {
  at::Tensor t = at::tensor({local ? 1.0f : 0.0f}, at::kFloat);
  if (grid_.world().size() > 1) grid_.world().allreduce(t, {comm::ReduceOp::kMax})->wait();
  return t.item<double>() > 0;
}

RankingMetrics KgTask::rank(KgSplit split, int64_t max) {
  const auto& all = data_.split(split);
  const std::vector<Triple> triples(all.begin(), all.begin() + (max > 0 ? std::min<int64_t>(max, all.size())
                                                                        : static_cast<int64_t>(all.size())));
  return rankFiltered(*model_, triples, data_.numRelations(), filter_, {cfg_.kg.reciprocal, cfg_.kg.eval_batch}, grid_);
}

Scores KgTask::evaluate() {
  Scores s;
  s.has_validation = !data_.valid().empty();
  if (!s.has_validation) return s;
  last_valid_ = rank(KgSplit::kValid, cfg_.kg.valid_max);
  s.val_metric = last_valid_.mrr;
  return s;
}

std::string KgTask::epochLine(const EpochReport& r) const {
  return fmt::format("epoch {}/{}: loss {:.4f} valid mrr {:.4f} hits@10 {:.4f} mr {:.0f} {:.0f} triples/s ({:.1f}s)",
                     r.epoch, r.epochs, r.train_loss, last_valid_.mrr, last_valid_.hits10, last_valid_.mr,
                     r.items_per_s, r.seconds);
}

nlohmann::json KgTask::epochMetrics(const EpochReport& r) const {
  return {{"train_loss", r.train_loss}, {"val_mrr", last_valid_.mrr},     {"val_mr", last_valid_.mr},
          {"val_hits1", last_valid_.hits1}, {"val_hits3", last_valid_.hits3}, {"val_hits10", last_valid_.hits10},
          {"triples_per_s", r.items_per_s}, {"epoch_seconds", r.seconds}};
}

void KgTask::describeRun(TrainState* state) const {
  state->num_classes = data_.numRelations();
  state->vocab_size = data_.numEntities();
  state->dp_world = grid_.dp().size();
}

void KgTask::barrier() { grid_.world().barrier({})->wait(); }

void KgTask::finish(const TrainState& state, FitResult* r) {
  if (state.best_epoch > 0) {
    std::optional<CheckpointInfo> best;
    if (root()) best = openCheckpoint((fs::path(ckpt_.dir()) / "best").string(), true);
    loadKgCheckpoint(fromRoot(best, "no best checkpoint"), grid_, *model_, nullptr);
  }
  const RankingMetrics test = rank(KgSplit::kTest, cfg_.kg.test_max);
  r->test_metric = test.mrr;
  if (!root()) return;
  nlohmann::json j = {{"best_epoch", state.best_epoch}, {"valid_mrr_at_best", state.best_score},
                      {"test", test.json(&data_)}, {"seconds", since(t0_)}};
  const fs::path out = fs::path(cfg_.run.out_dir) / "kg_metrics.json";
  std::ofstream(out) << j.dump(2) << '\n';
  core::log::info0("test (filtered, {} queries): mrr {:.4f} mr {:.1f} hits@1 {:.4f} hits@3 {:.4f} hits@10 {:.4f}; "
                   "wrote {}", test.queries, test.mrr, test.mr, test.hits1, test.hits3, test.hits10, out.string());
}

}  // namespace autoglm::trainer

namespace autoglm::trainer {

void KgTask::save(const std::string& name, const TrainState& state) {
  CheckpointPayload p;
  p.state = state.toJson();
  p.config_yaml = cfg_.toYaml();
  saveKgCheckpoint(ckpt_, name, std::move(p), grid_, *model_, opt_.get());
}

TrainState KgTask::restore(const CheckpointInfo& ckpt) {
  const TrainState saved = TrainState::fromJson(ckpt.state, ckpt.dir + "/state.json");
  if (saved.vocab_size != data_.numEntities() || saved.num_classes != data_.numRelations()) {
    throw CheckpointError(fmt::format("{}: written for {} entities and {} relations, this graph has {} and {}",
                                      ckpt.dir, saved.vocab_size, saved.num_classes, data_.numEntities(),
                                      data_.numRelations()));
  }
  loadKgCheckpoint(ckpt, grid_, *model_, opt_.get());
  return saved;
}

void KgTask::initFrom(const CheckpointInfo& ckpt) {
  loadKgCheckpoint(ckpt, grid_, *model_, nullptr);
  core::log::info0("initialised the tables from {}", ckpt.dir);
}

CheckpointInfo KgTask::fromRoot(const std::optional<CheckpointInfo>& on_root, const std::string& error) {
  return checkpointFromRoot(grid_.world(), on_root, error);
}

}  // namespace autoglm::trainer
