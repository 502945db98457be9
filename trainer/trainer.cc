#include "trainer/trainer.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/log.h"
#include "core/ppmi_embedding.h"
#include "parallel/distributed_sampler.h"
#include "trainer/fused_adam.h"
#include "trainer/progress.h"

namespace autoglm::trainer {
namespace fs = std::filesystem;

namespace {

std::string stepDirName(int64_t step) { return fmt::format("step-{:08d}", step); }

std::unique_ptr<torch::optim::Optimizer> makeOptimizer(const TrainConfig& t,
                                                       std::vector<at::Tensor> params) {
  if (t.optimizer == "adam") {
    auto o = torch::optim::AdamOptions(t.lr).weight_decay(t.weight_decay);
    if (t.fused_optimizer) return std::make_unique<FusedAdam>(std::move(params), o);
    return std::make_unique<torch::optim::Adam>(std::move(params), o);
  }
  auto o = torch::optim::AdamWOptions(t.lr).weight_decay(t.weight_decay);
  if (t.fused_optimizer) return std::make_unique<FusedAdamW>(std::move(params), o);
  return std::make_unique<torch::optim::AdamW>(std::move(params), o);
}

void setLr(torch::optim::Optimizer& opt, double lr) {
  for (auto& group : opt.param_groups()) group.options().set_lr(lr);
}

}  // namespace

Trainer::Trainer(const ExperimentConfig& cfg, const PreparedData& data)
    : cfg_(cfg),
      data_(data),
      ckpt_((fs::path(cfg.run.out_dir) / "checkpoints").string(), cfg.train.keep_checkpoints) {
  std::vector<int64_t> train_all = data.indicesOf(core::Split::kTrain);
  test_idx_ = data.indicesOf(core::Split::kTest);
  splitValidation(train_all, cfg.data.val_fraction, static_cast<uint64_t>(cfg.run.seed), &train_idx_, &val_idx_);
  if (train_idx_.empty()) throw DataError(data.cache_path + ": no training graphs left after the validation split");

  at::manual_seed(static_cast<uint64_t>(cfg.run.seed));
  model_ = core::GraphClassifier(cfg.model, data.vocab.size(), static_cast<int64_t>(data.label_names.size()));
  if (cfg.model.embed_init == "ppmi_svd") {
    const auto t0 = std::chrono::steady_clock::now();
    core::PpmiOptions po;
    po.dim = cfg.model.embed_dim;
    po.seed = static_cast<uint64_t>(cfg.run.seed);
    model_->setEmbeddings(core::ppmiSvdEmbeddings(data.store, train_idx_, data.vocab.size(), po));
    log::info0("initialised embeddings from training co-occurrences (PPMI + SVD) in {:.1f}s",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  optimizer_ = makeOptimizer(cfg.train, model_->parameters());

  const int64_t steps_per_epoch = static_cast<int64_t>(epochBatches(0).size());
  schedule_.lr = cfg.train.lr;
  schedule_.warmup_steps = cfg.train.warmup_steps;
  schedule_.total_steps = steps_per_epoch * cfg.train.epochs;
  schedule_.kind = cfg.train.schedule;
  schedule_.min_lr_ratio = cfg.train.min_lr_ratio;
}

Trainer::~Trainer() = default;

std::vector<std::vector<int64_t>> Trainer::epochBatches(int64_t epoch) const {
  parallel::SamplerOptions so;
  so.seed = static_cast<uint64_t>(cfg_.run.seed);
  parallel::DistributedSampler sampler(train_idx_, so);
  core::BatchLimits limits{cfg_.train.batch_graphs, cfg_.train.batch_nodes};
  return sampler.epochBatches(epoch, limits, [&](int64_t i) { return data_.store.numNodes(i); });
}

core::GraphBatch Trainer::makeBatch(const std::vector<int64_t>& indices) const {
  std::vector<core::GraphView> views;
  views.reserve(indices.size());
  for (int64_t i : indices) views.push_back(data_.store.graph(i));
  return core::collate(views);
}

double Trainer::trainBatch(const std::vector<int64_t>& indices) {
  using clock = std::chrono::steady_clock;
  auto secs = [](clock::time_point a, clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
  const auto t0 = clock::now();
  const core::GraphBatch batch = makeBatch(indices);
  const auto t1 = clock::now();
  model_->train();
  optimizer_->zero_grad();
  at::Tensor logits = model_->forward(batch);
  at::Tensor loss = at::cross_entropy_loss(logits, batch.labels, {}, at::Reduction::Mean, -100,
                                           cfg_.train.label_smoothing);
  const auto t2 = clock::now();
  loss.backward();
  const auto t3 = clock::now();
  if (grad_sync_) grad_sync_();
  const auto t4 = clock::now();
  if (cfg_.train.grad_clip > 0) torch::nn::utils::clip_grad_norm_(model_->parameters(), cfg_.train.grad_clip);
  setLr(*optimizer_, schedule_.at(step_));
  optimizer_->step();
  ++step_;
  const double l = loss.item<double>();
  const auto t5 = clock::now();
  times_.collate += secs(t0, t1);
  times_.forward += secs(t1, t2);
  times_.backward += secs(t2, t3);
  times_.sync += secs(t3, t4);
  times_.optimizer += secs(t4, t5);
  if (!std::isfinite(l)) {
    throw Error(detail::concat("training diverged: loss is ", l, " at step ", step_,
                               "; lower train.lr (now ", cfg_.train.lr, ") or set train.grad_clip"));
  }
  return l;
}

EvalResult Trainer::evaluate(const std::vector<int64_t>& indices) {
  EvalResult r;
  if (indices.empty()) return r;
  model_->eval();
  at::NoGradGuard no_grad;
  core::BatchLimits limits{cfg_.train.eval_batch_graphs, 0};
  double loss_sum = 0.0;
  int64_t correct = 0;
  for (const auto& b : core::planBatches(indices, [&](int64_t i) { return data_.store.numNodes(i); }, limits)) {
    core::GraphBatch batch = makeBatch(b);
    at::Tensor logits = model_->forward(batch);
    loss_sum += at::cross_entropy_loss(logits, batch.labels, {}, at::Reduction::Sum).item<double>();
    correct += logits.argmax(1).eq(batch.labels).sum().item<int64_t>();
  }
  r.count = static_cast<int64_t>(indices.size());
  r.loss = loss_sum / static_cast<double>(r.count);
  r.accuracy = static_cast<double>(correct) / static_cast<double>(r.count);
  return r;
}

void Trainer::saveCheckpoint(const std::string& name, const Position& pos) {
  CheckpointPayload p;
  p.model = model_.get();
  p.optimizer = optimizer_.get();
  p.state = {{"step", step_},
             {"epoch", pos.epoch},
             {"batch_in_epoch", pos.batch_in_epoch},
             {"best_val_accuracy", best_val_},
             {"best_val_loss", best_val_loss_},
             {"test_accuracy_at_best", test_at_best_},
             {"best_epoch", best_epoch_},
             {"bad_epochs", bad_epochs_},
             {"elapsed_seconds", elapsedSeconds()},
             {"num_classes", data_.label_names.size()},
             {"vocab_size", data_.vocab.size()}};
  p.vocab_tokens = data_.vocab.tokens();
  p.label_names = data_.label_names;
  p.config_yaml = cfg_.toYaml();
  ckpt_.save(name, p);
  if (name != "best") last_saved_step_ = step_;
}

void Trainer::restore(const CheckpointInfo& ckpt, Position* pos) {
  if (ckpt.vocab_tokens != data_.vocab.tokens() || ckpt.label_names != data_.label_names) {
    throw CheckpointError(ckpt.dir + ": vocabulary or labels differ from the prepared data; "
                          "resume with the same data and vocab settings");
  }
  loadModel(ckpt, *model_);
  loadOptimizer(ckpt, *optimizer_);
  restoreRng(ckpt);
  const auto& s = ckpt.state;
  step_ = s.at("step").get<int64_t>();
  pos->epoch = s.at("epoch").get<int64_t>();
  pos->batch_in_epoch = s.at("batch_in_epoch").get<int64_t>();
  best_val_ = s.at("best_val_accuracy").get<double>();
  best_val_loss_ = s.at("best_val_loss").get<double>();
  test_at_best_ = s.at("test_accuracy_at_best").get<double>();
  best_epoch_ = s.at("best_epoch").get<int64_t>();
  bad_epochs_ = s.at("bad_epochs").get<int64_t>();
  elapsed_before_ = s.at("elapsed_seconds").get<double>();
}

double Trainer::elapsedSeconds() const {
  return elapsed_before_ + std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start_).count();
}

FitResult Trainer::fit(bool resume) {
  Position pos;
  if (resume) {
    auto latest = ckpt_.latest();
    if (!latest) {
      throw CheckpointError(ckpt_.dir() + ": --resume given but no checkpoint exists (LATEST missing)");
    }
    restore(openCheckpoint(*latest, /*prefer_best=*/false), &pos);
    log::info0("resumed from {} at step {} (epoch {}, batch {})", *latest, step_, pos.epoch + 1, pos.batch_in_epoch);
  }
  metrics_ = MetricsWriter((fs::path(cfg_.run.out_dir) / "metrics.jsonl").string(), resume);
  log::info0("training {} graphs ({} validation, {} test), {} parameters, {} classes", train_idx_.size(),
             val_idx_.size(), test_idx_.size(),
             [&] {
               int64_t n = 0;
               for (const auto& p : model_->parameters()) n += p.numel();
               return n;
             }(),
             data_.label_names.size());

  t_start_ = std::chrono::steady_clock::now();
  FitResult result;
  bool stop = false;
  const int64_t max_steps = cfg_.train.max_steps;
  for (; pos.epoch < cfg_.train.epochs && !stop; ++pos.epoch, pos.batch_in_epoch = 0) {
    const auto batches = epochBatches(pos.epoch);
    Progress progress(detail::concat("epoch ", pos.epoch + 1, "/", cfg_.train.epochs),
                      static_cast<int64_t>(batches.size()), cfg_.train.progress);
    const auto t_epoch = std::chrono::steady_clock::now();
    int64_t graphs = 0;
    double loss_sum = 0.0;
    int64_t loss_n = 0;
    for (; pos.batch_in_epoch < static_cast<int64_t>(batches.size()); ++pos.batch_in_epoch) {
      if (max_steps > 0 && step_ >= max_steps) {
        stop = true;
        break;
      }
      if (stop_flag_ != nullptr && stop_flag_->load()) {
        stop = true;
        result.interrupted = true;
        break;
      }
      const auto& b = batches[static_cast<size_t>(pos.batch_in_epoch)];
      const double loss = trainBatch(b);
      graphs += static_cast<int64_t>(b.size());
      loss_sum += loss;
      ++loss_n;
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_epoch).count();
      const double gps = secs > 0 ? static_cast<double>(graphs) / secs : 0.0;
      progress.update(pos.batch_in_epoch + 1, fmt::format("loss {:.4f} {:.0f} graphs/s", loss_sum / static_cast<double>(loss_n), gps));
      if (step_ % cfg_.train.log_every == 0) {
        metrics_.write({{"event", "train"}, {"step", step_}, {"epoch", pos.epoch + 1}, {"loss", loss},
                        {"lr", schedule_.at(step_ - 1)}, {"graphs_per_s", gps}});
      }
      if (cfg_.train.checkpoint_every > 0 && step_ % cfg_.train.checkpoint_every == 0) {
        Position next{pos.epoch, pos.batch_in_epoch + 1};
        saveCheckpoint(stepDirName(step_), next);
      }
    }
    if (stop) {
      progress.finish();
      break;
    }
    const double epoch_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_epoch).count();
    const EvalResult val = evaluate(val_idx_);
    const EvalResult test = evaluate(test_idx_);
    const double train_loss = loss_n > 0 ? loss_sum / static_cast<double>(loss_n) : 0.0;
    const double gps = epoch_secs > 0 ? static_cast<double>(graphs) / epoch_secs : 0.0;
    progress.finish();
    log::info0("epoch {}/{}: loss {:.4f} val_acc {:.4f} test_acc {:.4f} {:.0f} graphs/s ({:.1f}s)", pos.epoch + 1,
               cfg_.train.epochs, train_loss, val.accuracy, test.accuracy, gps, epoch_secs);
    metrics_.write({{"event", "epoch"}, {"epoch", pos.epoch + 1}, {"step", step_}, {"train_loss", train_loss},
                    {"val_loss", val.loss}, {"val_accuracy", val.accuracy}, {"test_loss", test.loss},
                    {"test_accuracy", test.accuracy}, {"graphs_per_s", gps}, {"epoch_seconds", epoch_secs}});
    ++result.epochs_run;
    // Model selection: validation accuracy, ties broken by lower validation loss
    // (without a validation split: training loss).
    const double score = val_idx_.empty() ? -train_loss : val.accuracy;
    const double tie_loss = val_idx_.empty() ? train_loss : val.loss;
    const bool improved = score > best_val_ || (score == best_val_ && tie_loss < best_val_loss_);
    if (improved) {
      best_val_ = score;
      best_val_loss_ = tie_loss;
      test_at_best_ = test.accuracy;
      best_epoch_ = pos.epoch + 1;
      bad_epochs_ = 0;
    } else {
      ++bad_epochs_;
    }
    Position next{pos.epoch + 1, 0};
    if (improved) saveCheckpoint("best", next);
    saveCheckpoint(stepDirName(step_), next);
    if (cfg_.train.patience > 0 && bad_epochs_ >= cfg_.train.patience) {
      log::info0("early stopping: validation accuracy has not improved for {} epochs (best {:.4f} at epoch {})",
                 bad_epochs_, best_val_, best_epoch_);
      result.stopped_early = true;
      break;
    }
  }
  // A stop right after an epoch's end finds that step already checkpointed.
  if (stop && last_saved_step_ != step_) saveCheckpoint(stepDirName(step_), pos);
  if (result.interrupted) {
    log::warn0("interrupted at step {} (epoch {}, batch {}); checkpoint saved, continue with --resume", step_,
               pos.epoch + 1, pos.batch_in_epoch);
  }
  result.steps = step_;
  result.seconds = elapsedSeconds();
  result.best_val_accuracy = best_val_;
  result.best_epoch = best_epoch_;
  result.test_accuracy = test_at_best_;
  metrics_.write({{"event", "done"}, {"step", step_}, {"best_epoch", best_epoch_}, {"best_val_accuracy", best_val_},
                  {"test_accuracy", test_at_best_}, {"seconds", result.seconds}});
  return result;
}

}  // namespace autoglm::trainer
