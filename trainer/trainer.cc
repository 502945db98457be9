#include "trainer/trainer.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include <chrono>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/hash.h"
#include "core/log.h"
#include "parallel/data_parallel/distributed_sampler.h"
#include "trainer/model_builder.h"
#include "trainer/rank_state.h"
#include "trainer/sharded_checkpoint.h"

namespace autoglm::trainer {
namespace fs = std::filesystem;

namespace {

std::string stepDirName(int64_t step) { return fmt::format("step-{:08d}", step); }

int64_t countParameters(core::model::GraphClassifier& model) {
  int64_t n = 0;
  for (const auto& p : model->parameters()) n += p.numel();
  return n;
}

}  // namespace

Trainer::Trainer(const ExperimentConfig& cfg, const core::graph::PreparedData& data,
                 std::shared_ptr<comm::Communicator> dp)
    : Trainer(cfg, data, TrainGroups::dataParallel(std::move(dp))) {}

Trainer::Trainer(const ExperimentConfig& cfg, const core::graph::PreparedData& data, TrainGroups groups)
    : cfg_(cfg),
      data_(data),
      groups_(std::move(groups)),
      dp_(groups_.dp),
      rank_(groups_.dpRank()),
      world_(groups_.dpSize()),
      root_(groups_.worldRank() == 0),
      ckpt_((fs::path(cfg.run.out_dir) / "checkpoints").string(), cfg.train.keep_checkpoints) {
  const std::vector<int64_t> train_all = data.indicesOf(core::text::Split::kTrain);
  test_idx_ = data.indicesOf(core::text::Split::kTest);
  core::graph::splitValidation(train_all, cfg.data.val_fraction, static_cast<uint64_t>(cfg.run.seed), &train_idx_,
                               &val_idx_);
  if (train_idx_.empty()) throw DataError(data.cache_path + ": no training graphs left after the validation split");

  const BuiltModel built = buildModel(cfg_, data, train_idx_, groups_);
  model_ = built.model;
  // Every data-parallel replica starts from rank 0's parameters, then draws its
  // own dropout masks; the ranks of a tensor-parallel group draw alike.
  const int pp_rank = groups_.ppRank();
  if (groups_.worldSize() > 1 && (rank_ > 0 || pp_rank > 0)) {
    at::manual_seed(static_cast<uint64_t>(cfg.run.seed) + 1000003ull * static_cast<uint64_t>(rank_) +
                    7919ull * static_cast<uint64_t>(pp_rank));
  }
  if (groups_.ppSize() > 1) {
    link_ = std::make_unique<StageLink>(groups_.pp, cfg.model, static_cast<int64_t>(data.label_names.size()),
                                        built.stages.begin(pp_rank), built.stages.end(pp_rank) - 1);
  }
  const int64_t accum = cfg.train.grad_accumulation;
  const int64_t steps_per_epoch = (static_cast<int64_t>(epochBatches(0).size()) + accum - 1) / accum;
  steps_ = std::make_unique<StepRunner>(cfg_, data.store, model_, groups_, steps_per_epoch, link_.get());
  evaluator_ = std::make_unique<Evaluator>(model_, cfg.train.eval_batch_graphs, dp_.get(), link_.get());
  state_.num_classes = static_cast<int64_t>(data.label_names.size());
  state_.vocab_size = data.vocab.size();
  state_.dp_world = world_;
  state_.compression = core::enumName(cfg.parallel.compression.type);
}

Trainer::~Trainer() = default;

std::vector<std::vector<int64_t>> Trainer::epochBatches(int64_t epoch, std::vector<int64_t>* global_sizes) const {
  parallel::data_parallel::SamplerOptions so;
  so.seed = static_cast<uint64_t>(cfg_.run.seed);
  so.rank = rank_;
  so.world = world_;
  parallel::data_parallel::DistributedSampler sampler(train_idx_, so);
  const core::graph::BatchLimits limits{cfg_.train.batch_graphs, cfg_.train.batch_nodes};
  return sampler.epochBatches(epoch, limits, [&](int64_t i) { return data_.store.numNodes(i); }, global_sizes);
}

bool Trainer::stopRequested() const {
  const bool local = stop_request_ && stop_request_();
  if (groups_.worldSize() == 1) return local;
  // A signal may reach the ranks at different steps: stop where any rank asked.
  at::Tensor t = at::full({1}, local ? 1 : 0, at::TensorOptions().dtype(at::kInt));
  groups_.world->allreduce(t, {comm::ReduceOp::kMax})->wait();
  return t.item<int32_t>() != 0;
}

void Trainer::setObserver(RunObserver* observer) {
  observer_ = observer;
  steps_->setObserver(observer);
}

double Trainer::trainStep(const std::vector<std::vector<int64_t>>& micro_batches, int64_t global_graphs) {
  const auto t0 = std::chrono::steady_clock::now();
  const double loss = steps_->run(micro_batches, global_graphs, state_.step);
  ++state_.step;
  if (observer_ != nullptr) {
    observer_->onStepEnd(state_.step, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return loss;
}

CheckpointLayout Trainer::layout() const {
  return {groups_.dpSize(), groups_.tpSize(), groups_.ppSize(), core::enumName(cfg_.parallel.compression.type)};
}

void Trainer::saveCheckpoint(const std::string& name, const TrainState& state) {
  phase(Phase::kCheckpoint);
  CheckpointPayload p;
  TrainState saved = state;
  saved.elapsed_seconds = elapsedSeconds();
  p.state = saved.toJson();
  p.vocab_tokens = data_.vocab.tokens();
  p.label_names = data_.label_names;
  p.config_yaml = cfg_.toYaml();
  ShardedSave s;
  s.groups = &groups_;
  s.model = model_.get();
  s.optimizer = &steps_->optimizer();
  s.layout = layout();
  auto* reducer = steps_->reducer();
  s.rank_state = saveRankState(reducer != nullptr ? &reducer->compressor() : nullptr, cfg_.parallel.compression.type);
  saveShardedCheckpoint(ckpt_, name, std::move(p), s);
  if (name != "best") last_saved_step_ = state_.step;
}

void Trainer::restore(const CheckpointInfo& ckpt) {
  if (ckpt.vocab_tokens != data_.vocab.tokens() || ckpt.label_names != data_.label_names) {
    throw CheckpointError(ckpt.dir + ": vocabulary or labels differ from the prepared data; "
                          "resume with the same data and vocab settings");
  }
  const TrainState saved = TrainState::fromJson(ckpt.state, ckpt.dir + "/state.json");
  const CheckpointLayout was = loadShardedModel(ckpt, *model_, &steps_->optimizer());
  if (was == layout()) {
    auto* reducer = steps_->reducer();
    const std::string file = rankFileName(groups_.worldRank());
    loadRankState(readCheckpointFile(ckpt, file), ckpt.dir + "/" + file,
                  reducer != nullptr ? &reducer->compressor() : nullptr, cfg_.parallel.compression.type);
  } else {
    // Another layout: no rank here has the buckets (or the shard of the data)
    // a saved rank state belongs to. Fresh streams, the same on every run.
    at::manual_seed(static_cast<uint64_t>(cfg_.run.seed) + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(saved.step) +
                    1000003ull * static_cast<uint64_t>(rank_) + 7919ull * static_cast<uint64_t>(groups_.ppRank()));
    core::log::warn0("{} was written at {}, this run is {}: parameters and Adam moments resliced, RNG streams "
                     "derived again, compressor residuals {}", ckpt.dir, was.str(), layout().str(),
                     was.compression == "none" ? "none to carry" : "dropped (error feedback restarts from zero)");
  }
  // Progress and selection from the checkpoint; the layout fields stay this run's.
  TrainState restored = saved;
  restored.num_classes = state_.num_classes;
  restored.vocab_size = state_.vocab_size;
  restored.dp_world = state_.dp_world;
  restored.compression = state_.compression;
  state_ = restored;
  if (saved.dp_world != world_) {
    // Batches per rank differ: continue from the first batch of this layout
    // that starts at or before the global cursor (no graph of the epoch skipped).
    std::vector<int64_t> global_sizes;
    const auto batches = epochBatches(state_.epoch, &global_sizes);
    int64_t b = 0, seen = 0;
    while (b < static_cast<int64_t>(batches.size()) && seen + global_sizes[static_cast<size_t>(b)] <= saved.graphs_in_epoch) {
      seen += global_sizes[static_cast<size_t>(b++)];
    }
    state_.batch_in_epoch = b;
    state_.graphs_in_epoch = seen;
  }
}

double Trainer::elapsedSeconds() const {
  return state_.elapsed_seconds + std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start_).count();
}

Trainer::EpochEnd Trainer::runEpoch(EpochSummary* s) {
  std::vector<int64_t> global_sizes;
  const auto batches = epochBatches(state_.epoch, &global_sizes);
  const auto num_batches = static_cast<int64_t>(batches.size());
  s->progress.emplace(detail::concat("epoch ", state_.epoch + 1, "/", cfg_.train.epochs), num_batches,
                      root_ ? cfg_.train.progress : ProgressMode::kOff);
  const auto t_epoch = std::chrono::steady_clock::now();
  const int64_t accum = cfg_.train.grad_accumulation;
  while (state_.batch_in_epoch < num_batches) {
    if (cfg_.train.max_steps > 0 && state_.step >= cfg_.train.max_steps) return EpochEnd::kStopped;
    if (stopRequested()) return EpochEnd::kInterrupted;
    const int64_t first = state_.batch_in_epoch;
    const int64_t last = std::min(num_batches, first + accum);
    std::vector<std::vector<int64_t>> micro(batches.begin() + first, batches.begin() + last);
    int64_t step_graphs = 0;
    for (int64_t b = first; b < last; ++b) step_graphs += global_sizes[static_cast<size_t>(b)];
    const double loss = trainStep(micro, step_graphs);
    state_.batch_in_epoch = last;
    state_.graphs_in_epoch += step_graphs;
    s->graphs += step_graphs;
    s->loss_sum += loss;
    ++s->loss_steps;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_epoch).count();
    const double gps = secs > 0 ? static_cast<double>(s->graphs) / secs : 0.0;
    s->progress->update(state_.batch_in_epoch, fmt::format("loss {:.4f} {:.0f} graphs/s",
                                                           s->loss_sum / static_cast<double>(s->loss_steps), gps));
    if (state_.step % cfg_.train.log_every == 0) {  // a no-op on ranks without a metrics file
      metrics_.write({{"event", "train"}, {"step", state_.step}, {"epoch", state_.epoch + 1}, {"loss", loss},
                      {"lr", steps_->schedule().at(state_.step - 1)}, {"graphs_per_s", gps}});
    }
    if (cfg_.train.checkpoint_every > 0 && state_.step % cfg_.train.checkpoint_every == 0) {
      saveCheckpoint(stepDirName(state_.step), state_);
    }
  }
  s->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_epoch).count();
  return EpochEnd::kDone;
}

bool Trainer::finishEpoch(EpochSummary& s, FitResult* result) {
  double loss_sum = s.loss_sum;
  if (world_ > 1) {  // the group's mean training loss
    at::Tensor l = at::tensor({static_cast<float>(loss_sum)}, at::TensorOptions().dtype(at::kFloat));
    dp_->allreduce(l, {comm::ReduceOp::kAvg})->wait();
    loss_sum = l.item<double>();
  }
  phase(Phase::kEval);
  const EvalResult val = evaluator_->evaluate(data_.store, val_idx_);
  const EvalResult test = evaluator_->evaluate(data_.store, test_idx_);
  const double train_loss = s.loss_steps > 0 ? loss_sum / static_cast<double>(s.loss_steps) : 0.0;
  const double gps = s.seconds > 0 ? static_cast<double>(s.graphs) / s.seconds : 0.0;
  const int64_t epoch = state_.epoch + 1;  // 1-based, for people
  s.progress->finish();
  core::log::info0("epoch {}/{}: loss {:.4f} val_acc {:.4f} test_acc {:.4f} {:.0f} graphs/s ({:.1f}s)", epoch,
                   cfg_.train.epochs, train_loss, val.accuracy, test.accuracy, gps, s.seconds);
  metrics_.write({{"event", "epoch"}, {"epoch", epoch}, {"step", state_.step}, {"train_loss", train_loss},
                  {"val_loss", val.loss}, {"val_accuracy", val.accuracy}, {"test_loss", test.loss},
                  {"test_accuracy", test.accuracy}, {"graphs_per_s", gps}, {"epoch_seconds", s.seconds}});
  ++result->epochs_run;
  // Model selection (train.select): validation accuracy with ties broken by
  // lower validation loss, or validation loss alone (without a validation
  // split: training loss).
  const bool by_loss = val_idx_.empty() || cfg_.train.select == SelectKind::kValLoss;
  const double tie_loss = val_idx_.empty() ? train_loss : val.loss;
  const double score = by_loss ? -tie_loss : val.accuracy;
  const bool improved =
      score > state_.best_val_accuracy || (score == state_.best_val_accuracy && tie_loss < state_.best_val_loss);
  if (improved) {
    state_.best_val_accuracy = score;
    state_.best_val_loss = tie_loss;
    state_.test_accuracy_at_best = test.accuracy;
    state_.best_epoch = epoch;
    state_.bad_epochs = 0;
  } else {
    ++state_.bad_epochs;
  }
  state_.epoch = epoch;  // the next epoch, from its first batch
  state_.batch_in_epoch = 0;
  state_.graphs_in_epoch = 0;
  if (improved) saveCheckpoint("best", state_);
  saveCheckpoint(stepDirName(state_.step), state_);
  if (cfg_.train.patience > 0 && state_.bad_epochs >= cfg_.train.patience) {
    core::log::info0("early stopping: the selection score (train.select: {}) has not improved for {} epochs "
                     "(best {:.4f} at epoch {})",
                     core::enumName(cfg_.train.select), state_.bad_epochs, state_.best_val_accuracy, state_.best_epoch);
    return true;
  }
  return false;
}

void Trainer::refuseUsedOutDir(bool overwrite) {
  const std::vector<std::string> found = ckpt_.existing();
  if (found.empty()) return;
  if (overwrite) {
    if (root_) {
      core::log::warn0("--overwrite: removing {} checkpoint(s) of an earlier run in {}", found.size(), ckpt_.dir());
      ckpt_.clear();
      fs::remove(fs::path(cfg_.run.out_dir) / "metrics.jsonl");
    }
    if (groups_.world) groups_.world->barrier({})->wait();
    return;
  }
  std::string names;
  for (size_t i = 0; i < found.size() && i < 3; ++i) names += (i ? ", " : "") + found[i];
  if (found.size() > 3) names += ", ...";
  throw ConfigError("run.out_dir=" + cfg_.run.out_dir + " already holds checkpoints (" + ckpt_.dir() + ": " + names +
                    "); continue that run with --resume, choose another run.out_dir, or pass --overwrite to "
                    "replace them");
}

void Trainer::resumeFromNewest() {
  const std::vector<std::string> candidates = ckpt_.resumeCandidates();
  if (candidates.empty()) {
    throw CheckpointError(ckpt_.dir() + ": --resume given but no checkpoint exists (LATEST missing)");
  }
  std::string skipped;
  for (const auto& dir : candidates) {
    CheckpointInfo info;
    try {
      info = openCheckpoint(dir, /*prefer_best=*/false);
    } catch (const CheckpointError& e) {
      core::log::warn("skipping checkpoint {}: {}", dir, e.what());
      skipped += std::string(skipped.empty() ? "" : "; ") + e.what();
      continue;
    }
    restore(info);
    confirmSameCheckpoint(info);
    core::log::info0("resumed from {} at step {} (epoch {}, batch {})", info.dir, state_.step, state_.epoch + 1,
                     state_.batch_in_epoch);
    return;
  }
  throw CheckpointError(ckpt_.dir() + ": --resume found no checkpoint that verifies (" + skipped + ")");
}

EvalResult Trainer::evaluate(EvalSplit split) {
  return evaluator_->evaluate(data_.store, split == EvalSplit::kTest ? test_idx_ : val_idx_);
}

void Trainer::confirmSameCheckpoint(const CheckpointInfo& ckpt) {
  if (groups_.worldSize() == 1) return;
  // Ranks on hosts without a shared file system read their own copies: all must
  // have restored the same step from the same checkpoint.
  const std::string name = fs::path(ckpt.dir).filename().string();
  const std::string id = name + "\n" + ckpt.state.dump();
  const int64_t mine[2] = {state_.step, static_cast<int64_t>(core::crc32(id.data(), id.size()))};
  at::Tensor t = at::tensor(std::vector<int64_t>{mine[0], mine[1]}, at::TensorOptions().dtype(at::kLong));
  auto w = groups_.world->allgather(t, {});
  w->wait();
  const at::Tensor all = w->result()[0];
  std::string differ;
  for (int r = 0; r < groups_.worldSize(); ++r) {
    if (all[r][0].item<int64_t>() != mine[0] || all[r][1].item<int64_t>() != mine[1]) {
      differ += detail::concat(differ.empty() ? "" : ", ", "rank ", r, " at step ", all[r][0].item<int64_t>());
    }
  }
  if (!differ.empty()) {
    throw CheckpointError(detail::concat("rank ", groups_.worldRank(), " resumed from ", ckpt.dir, " at step ", state_.step,
                                         " but ", differ, " resumed from another checkpoint; give every rank the "
                                         "same checkpoint (a shared file system or a copy of it)"));
  }
}

FitResult Trainer::fit(bool resume, bool overwrite) {
  if (resume) {
    resumeFromNewest();
  } else {
    refuseUsedOutDir(overwrite);
  }
  if (root_) metrics_ = MetricsWriter((fs::path(cfg_.run.out_dir) / "metrics.jsonl").string(), resume);
  core::log::info0("training {} graphs ({} validation, {} test), {} parameters, {} classes", train_idx_.size(),
                   val_idx_.size(), test_idx_.size(), countParameters(model_), data_.label_names.size());
  t_start_ = std::chrono::steady_clock::now();
  FitResult result;
  EpochEnd end = EpochEnd::kDone;
  while (state_.epoch < cfg_.train.epochs) {
    EpochSummary summary;
    end = runEpoch(&summary);
    if (end != EpochEnd::kDone) {
      summary.progress->finish();
      break;
    }
    if (finishEpoch(summary, &result)) {
      result.stopped_early = true;
      break;
    }
  }
  // A stop right after an epoch's end finds that step already checkpointed.
  if (end != EpochEnd::kDone && last_saved_step_ != state_.step) saveCheckpoint(stepDirName(state_.step), state_);
  result.interrupted = end == EpochEnd::kInterrupted;
  if (result.interrupted) {
    core::log::warn0("interrupted at step {} (epoch {}, batch {}); checkpoint saved, continue with --resume",
                     state_.step, state_.epoch + 1, state_.batch_in_epoch);
  }
  result.steps = state_.step;
  result.seconds = elapsedSeconds();
  result.best_val_accuracy = state_.best_val_accuracy;
  result.best_epoch = state_.best_epoch;
  result.test_accuracy = state_.test_accuracy_at_best;
  phase(Phase::kDone);
  metrics_.write({{"event", "done"}, {"step", state_.step}, {"best_epoch", state_.best_epoch},
                  {"best_val_accuracy", state_.best_val_accuracy}, {"test_accuracy", state_.test_accuracy_at_best},
                  {"seconds", result.seconds}});
  return result;
}

}  // namespace autoglm::trainer
