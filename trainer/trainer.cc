#include "trainer/trainer.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>

#include <torch/serialize.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <sstream>

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
std::string rankFileName(int rank) { return fmt::format("rank-{:05d}.pt", rank); }

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

Trainer::Trainer(const ExperimentConfig& cfg, const PreparedData& data, std::shared_ptr<comm::Communicator> dp)
    : cfg_(cfg),
      data_(data),
      dp_(std::move(dp)),
      rank_(dp_ ? dp_->rank() : 0),
      world_(dp_ ? dp_->size() : 1),
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
  if (world_ > 1) {
    // Every rank starts from rank 0's parameters, then draws its own dropout masks.
    for (auto& p : model_->parameters()) {
      at::NoGradGuard no_grad;
      at::Tensor t = p.detach();
      dp_->broadcast(t, {0})->wait();
    }
    for (auto& b : model_->buffers()) dp_->broadcast(b, {0})->wait();
    if (rank_ > 0) at::manual_seed(static_cast<uint64_t>(cfg.run.seed) + 1000003ull * static_cast<uint64_t>(rank_));
  }
  if (dp_) {
    parallel::ReducerOptions ro;
    ro.bucket_bytes = static_cast<int64_t>(cfg.parallel.bucket_mb * 1024.0 * 1024.0);
    ro.mode = cfg.parallel.reducer_mode;
    reducer_ = std::make_unique<parallel::GradientReducer>(model_->parameters(), dp_,
                                                           parallel::makeCompressor(cfg.parallel.compression), ro);
    log::info0("data parallel over {} ranks: {} gradient buckets ({} MiB cap), compression {}, reducer {}", world_,
               reducer_->numBuckets(), cfg.parallel.bucket_mb, cfg.parallel.compression.type,
               cfg.parallel.reducer_mode);
  }
  optimizer_ = makeOptimizer(cfg.train, model_->parameters());

  const int64_t accum = cfg.train.grad_accumulation;
  const int64_t steps_per_epoch = (static_cast<int64_t>(epochBatches(0).size()) + accum - 1) / accum;
  schedule_.lr = cfg.train.lr;
  schedule_.warmup_steps = cfg.train.warmup_steps;
  schedule_.total_steps = steps_per_epoch * cfg.train.epochs;
  schedule_.kind = cfg.train.schedule;
  schedule_.min_lr_ratio = cfg.train.min_lr_ratio;
}

Trainer::~Trainer() = default;

std::vector<std::vector<int64_t>> Trainer::epochBatches(int64_t epoch, std::vector<int64_t>* global_sizes) const {
  parallel::SamplerOptions so;
  so.seed = static_cast<uint64_t>(cfg_.run.seed);
  so.rank = rank_;
  so.world = world_;
  parallel::DistributedSampler sampler(train_idx_, so);
  core::BatchLimits limits{cfg_.train.batch_graphs, cfg_.train.batch_nodes};
  return sampler.epochBatches(epoch, limits, [&](int64_t i) { return data_.store.numNodes(i); }, global_sizes);
}

bool Trainer::stopRequested() const {
  const bool local = stop_flag_ != nullptr && stop_flag_->load();
  if (world_ == 1) return local;
  // A signal may reach the ranks at different steps: stop where any rank asked.
  at::Tensor t = at::full({1}, local ? 1 : 0, at::TensorOptions().dtype(at::kInt));
  dp_->allreduce(t, {comm::ReduceOp::kMax})->wait();
  return t.item<int32_t>() != 0;
}

std::string Trainer::rankState() const {
  torch::serialize::OutputArchive a;
  a.write("rng", cpuRngState());
  std::string names;
  int i = 0;
  if (reducer_) {
    for (const auto& [name, t] : reducer_->compressor().state()) {
      a.write("c" + std::to_string(i++), t);
      names += name + "\n";
    }
  }
  a.write("compressor", c10::IValue(names));
  a.write("compressor_type", c10::IValue(cfg_.parallel.compression.type));
  std::ostringstream out;
  a.save_to(out);
  return out.str();
}

void Trainer::loadRankState(const std::string& bytes, const std::string& what) {
  try {
    torch::serialize::InputArchive a;
    a.load_from(bytes.data(), bytes.size());
    at::Tensor rng;
    a.read("rng", rng);
    c10::IValue names_v, type_v;
    a.read("compressor", names_v);
    a.read("compressor_type", type_v);
    if (type_v.toStringRef() != cfg_.parallel.compression.type) {
      throw CheckpointError(what + ": written with parallel.compression.type=" + type_v.toStringRef() +
                            ", this run uses " + cfg_.parallel.compression.type);
    }
    parallel::CompressorState state;
    std::istringstream names(names_v.toStringRef());
    std::string name;
    for (int i = 0; std::getline(names, name); ++i) {
      at::Tensor t;
      a.read("c" + std::to_string(i), t);
      state.emplace_back(name, t);
    }
    if (reducer_) reducer_->compressor().loadState(state);
    setCpuRngState(rng);
  } catch (const c10::Error& e) {
    throw CheckpointError(what + ": unreadable rank state: " + e.what_without_backtrace());
  }
}

core::GraphBatch Trainer::makeBatch(const std::vector<int64_t>& indices) const {
  std::vector<core::GraphView> views;
  views.reserve(indices.size());
  for (int64_t i : indices) views.push_back(data_.store.graph(i));
  return core::collate(views);
}

double Trainer::trainBatch(const std::vector<int64_t>& indices) {
  return trainStep({indices}, static_cast<int64_t>(indices.size()) * world_);
}

double Trainer::trainStep(const std::vector<std::vector<int64_t>>& micro_batches, int64_t global_graphs) {
  using clock = std::chrono::steady_clock;
  auto secs = [](clock::time_point a, clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
  AUTOGLM_CHECK(!micro_batches.empty() && global_graphs > 0, "empty training step");
  model_->train();
  optimizer_->zero_grad();
  // Summed loss over this rank's graphs, scaled so that the group average is the
  // mean over the step's global batch.
  const double scale = static_cast<double>(world_) / static_cast<double>(global_graphs);
  double loss_total = 0.0;
  for (size_t m = 0; m < micro_batches.size(); ++m) {
    const auto t0 = clock::now();
    const core::GraphBatch batch = makeBatch(micro_batches[m]);
    const auto t1 = clock::now();
    at::Tensor logits = model_->forward(batch);
    at::Tensor loss = at::cross_entropy_loss(logits, batch.labels, {}, at::Reduction::Sum, -100,
                                             cfg_.train.label_smoothing) *
                      scale;
    const auto t2 = clock::now();
    if (reducer_) reducer_->beginBackward(/*sync=*/m + 1 == micro_batches.size(), step_);
    loss.backward();
    loss_total += loss.item<double>();
    const auto t3 = clock::now();
    times_.collate += secs(t0, t1);
    times_.forward += secs(t1, t2);
    times_.backward += secs(t2, t3);
  }
  const auto t3 = clock::now();
  if (reducer_) reducer_->finishStep();
  if (grad_sync_) grad_sync_();
  const auto t4 = clock::now();
  if (cfg_.train.grad_clip > 0) torch::nn::utils::clip_grad_norm_(model_->parameters(), cfg_.train.grad_clip);
  setLr(*optimizer_, schedule_.at(step_));
  optimizer_->step();
  ++step_;
  const auto t5 = clock::now();
  times_.sync += secs(t3, t4);
  times_.optimizer += secs(t4, t5);
  if (!std::isfinite(loss_total)) {
    throw Error(detail::concat("training diverged: loss is ", loss_total, " at step ", step_,
                               "; lower train.lr (now ", cfg_.train.lr, ") or set train.grad_clip"));
  }
  return loss_total;
}

EvalResult Trainer::evaluate(const std::vector<int64_t>& indices) {
  EvalResult r;
  if (indices.empty()) return r;
  model_->eval();
  at::NoGradGuard no_grad;
  core::BatchLimits limits{cfg_.train.eval_batch_graphs, 0};
  // Each rank evaluates every world_-th graph; the sums are added up.
  std::vector<int64_t> mine;
  for (size_t i = static_cast<size_t>(rank_); i < indices.size(); i += static_cast<size_t>(world_)) {
    mine.push_back(indices[i]);
  }
  double loss_sum = 0.0;
  int64_t correct = 0;
  for (const auto& b : core::planBatches(mine, [&](int64_t i) { return data_.store.numNodes(i); }, limits)) {
    core::GraphBatch batch = makeBatch(b);
    at::Tensor logits = model_->forward(batch);
    loss_sum += at::cross_entropy_loss(logits, batch.labels, {}, at::Reduction::Sum).item<double>();
    correct += logits.argmax(1).eq(batch.labels).sum().item<int64_t>();
  }
  if (world_ > 1) {
    // float32 for the loss (the communicator reduces no float64), int64 for counts.
    at::Tensor l = at::tensor({static_cast<float>(loss_sum)}, at::TensorOptions().dtype(at::kFloat));
    at::Tensor c = at::tensor({correct}, at::TensorOptions().dtype(at::kLong));
    dp_->allreduce(l, {comm::ReduceOp::kSum})->wait();
    dp_->allreduce(c, {comm::ReduceOp::kSum})->wait();
    loss_sum = l.item<double>();
    correct = c.item<int64_t>();
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
  p.state["dp_world"] = world_;
  p.state["compression"] = cfg_.parallel.compression.type;
  p.vocab_tokens = data_.vocab.tokens();
  p.label_names = data_.label_names;
  p.config_yaml = cfg_.toYaml();
  if (dp_) {
    // Every rank's RNG and compressor residuals travel to rank 0, which writes
    // them into the checkpoint with the rest (no shared file system needed).
    const std::string mine = rankState();
    at::Tensor bytes = at::empty({static_cast<int64_t>(mine.size())}, at::TensorOptions().dtype(at::kByte));
    std::memcpy(bytes.data_ptr<uint8_t>(), mine.data(), mine.size());
    auto w = dp_->allgatherv(bytes, {});
    w->wait();
    for (int r = 0; r < world_; ++r) {
      const at::Tensor& t = w->result()[static_cast<size_t>(r)];
      p.extra_files.emplace_back(rankFileName(r),
                                 std::string(reinterpret_cast<const char*>(t.data_ptr<uint8_t>()),
                                             static_cast<size_t>(t.numel())));
    }
  }
  if (rank_ == 0) ckpt_.save(name, p);
  if (name != "best") last_saved_step_ = step_;
}

void Trainer::restore(const CheckpointInfo& ckpt, Position* pos) {
  if (ckpt.vocab_tokens != data_.vocab.tokens() || ckpt.label_names != data_.label_names) {
    throw CheckpointError(ckpt.dir + ": vocabulary or labels differ from the prepared data; "
                          "resume with the same data and vocab settings");
  }
  const auto& s = ckpt.state;
  const int64_t saved_world = s.value("dp_world", int64_t{1});
  if (saved_world != world_) {
    throw CheckpointError(detail::concat(ckpt.dir, ": written by ", saved_world,
                                         " data-parallel ranks, this run has ", world_,
                                         "; resume with the same number of ranks"));
  }
  loadModel(ckpt, *model_);
  loadOptimizer(ckpt, *optimizer_);
  if (dp_) {
    loadRankState(readCheckpointFile(ckpt, rankFileName(rank_)), ckpt.dir + "/" + rankFileName(rank_));
  } else {
    restoreRng(ckpt);
  }
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
  if (rank_ == 0) metrics_ = MetricsWriter((fs::path(cfg_.run.out_dir) / "metrics.jsonl").string(), resume);
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
  const int64_t accum = cfg_.train.grad_accumulation;
  const std::string progress_mode = rank_ == 0 ? cfg_.train.progress : "off";
  for (; pos.epoch < cfg_.train.epochs && !stop; ++pos.epoch, pos.batch_in_epoch = 0) {
    std::vector<int64_t> global_sizes;
    const auto batches = epochBatches(pos.epoch, &global_sizes);
    const auto num_batches = static_cast<int64_t>(batches.size());
    Progress progress(detail::concat("epoch ", pos.epoch + 1, "/", cfg_.train.epochs), num_batches, progress_mode);
    const auto t_epoch = std::chrono::steady_clock::now();
    int64_t graphs = 0;  // on all ranks
    double loss_sum = 0.0;
    int64_t loss_n = 0;
    while (pos.batch_in_epoch < num_batches) {
      if (max_steps > 0 && step_ >= max_steps) {
        stop = true;
        break;
      }
      if (stopRequested()) {
        stop = true;
        result.interrupted = true;
        break;
      }
      const int64_t first = pos.batch_in_epoch;
      const int64_t last = std::min(num_batches, first + accum);
      std::vector<std::vector<int64_t>> micro(batches.begin() + first, batches.begin() + last);
      int64_t step_graphs = 0;
      for (int64_t b = first; b < last; ++b) step_graphs += global_sizes[static_cast<size_t>(b)];
      const double loss = trainStep(micro, step_graphs);
      pos.batch_in_epoch = last;
      graphs += step_graphs;
      loss_sum += loss;
      ++loss_n;
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_epoch).count();
      const double gps = secs > 0 ? static_cast<double>(graphs) / secs : 0.0;
      progress.update(pos.batch_in_epoch, fmt::format("loss {:.4f} {:.0f} graphs/s", loss_sum / static_cast<double>(loss_n), gps));
      if (step_ % cfg_.train.log_every == 0) {  // a no-op on ranks without a metrics file
        metrics_.write({{"event", "train"}, {"step", step_}, {"epoch", pos.epoch + 1}, {"loss", loss},
                        {"lr", schedule_.at(step_ - 1)}, {"graphs_per_s", gps}});
      }
      if (cfg_.train.checkpoint_every > 0 && step_ % cfg_.train.checkpoint_every == 0) {
        saveCheckpoint(stepDirName(step_), pos);
      }
    }
    if (stop) {
      progress.finish();
      break;
    }
    const double epoch_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_epoch).count();
    if (world_ > 1) {  // the group's mean training loss
      at::Tensor l = at::tensor({static_cast<float>(loss_sum)}, at::TensorOptions().dtype(at::kFloat));
      dp_->allreduce(l, {comm::ReduceOp::kAvg})->wait();
      loss_sum = l.item<double>();
    }
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
