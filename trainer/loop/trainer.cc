#include "trainer/loop/trainer.h"

#include <fmt/format.h>
#include <chrono>
#include <filesystem>
#include <optional>

#include "core/error.h"
#include "core/log.h"
#include "trainer/loop/selection.h"

namespace autoglm::trainer {
namespace fs = std::filesystem;
using parallel::Phase;

namespace {

std::string stepDirName(int64_t step) { return fmt::format("step-{:08d}", step); }

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

Trainer::Trainer(const ExperimentConfig& cfg, std::unique_ptr<Task> task)
    : cfg_(cfg),
      task_(std::move(task)),
      ckpt_(task_->checkpointing() != nullptr
                ? std::optional<CheckpointManager>(std::in_place,
                                                   (fs::path(cfg.run.out_dir) / "checkpoints").string(),
                                                   cfg.train.keep_checkpoints)
                : std::nullopt) {
  task_->describeRun(&state_);
}

Trainer::~Trainer() = default;

double Trainer::countedStep(const std::function<double(int64_t step)>& run) {
  const auto t0 = std::chrono::steady_clock::now();
  const double loss = run(state_.step);
  ++state_.step;
  if (observer_ != nullptr) observer_->onStepEnd(state_.step, since(t0));
  return loss;
}

void Trainer::saveCheckpoint(const std::string& name) {
  Checkpointing* ckpt = task_->checkpointing();
  if (ckpt == nullptr) return;
  phase(parallel::Phase::kCheckpoint);
  TrainState saved = state_;
  saved.elapsed_seconds = elapsedSeconds();
  ckpt->save(name, saved);
  if (name != "best") last_saved_step_ = state_.step;
}

void Trainer::restore(const CheckpointInfo& ckpt) {
  const TrainState saved = task_->checkpointing()->restore(ckpt);
  // Progress and selection from the checkpoint; the fields that describe the
  // run (classes, vocabulary, layout) stay this run's.
  TrainState restored = saved;
  task_->describeRun(&restored);
  state_ = restored;
  if (saved.dp_world != state_.dp_world) {
    // Batches per rank differ: continue from the first batch of this layout
    // that starts at or before the global cursor (no item of the epoch skipped).
    const EpochPlan plan = task_->planEpoch(state_.epoch);
    int64_t b = 0, seen = 0;
    while (b < plan.size() && seen + plan.global_items[static_cast<size_t>(b)] <= saved.items_in_epoch) {
      seen += plan.global_items[static_cast<size_t>(b++)];
    }
    state_.batch_in_epoch = b;
    state_.items_in_epoch = seen;
  }
}

double Trainer::elapsedSeconds() const { return state_.elapsed_seconds + since(t_start_); }

void Trainer::logStep(EpochSummary& s, double loss, double secs) {
  const double ips = secs > 0 ? static_cast<double>(s.items) / secs : 0.0;
  s.progress->update(state_.batch_in_epoch, fmt::format("loss {:.4f} {:.0f} {}/s",
                                                        s.loss_sum / static_cast<double>(s.loss_steps), ips,
                                                        task_->itemName()));
  if (state_.step % cfg_.train.log_every == 0) {  // a no-op on ranks without a metrics file
    metrics_.write({{"event", "train"}, {"step", state_.step}, {"epoch", state_.epoch + 1}, {"loss", loss},
                    {"lr", task_->learningRate(state_.step - 1)}, {task_->itemName() + "_per_s", ips}});
  }
}

Trainer::EpochEnd Trainer::runEpoch(EpochSummary* s) {
  const EpochPlan plan = task_->planEpoch(state_.epoch);
  const int64_t num_batches = plan.size();
  s->progress.emplace(detail::concat("epoch ", state_.epoch + 1, "/", cfg_.train.epochs), num_batches,
                      task_->root() ? cfg_.train.progress : ProgressMode::kOff);
  const auto t_epoch = std::chrono::steady_clock::now();
  const int64_t accum = cfg_.train.grad_accumulation;
  while (state_.batch_in_epoch < num_batches) {
    if (cfg_.train.max_steps > 0 && state_.step >= cfg_.train.max_steps) return EpochEnd::kStopped;
    if (task_->anyRank(stop_request_ && stop_request_())) return EpochEnd::kInterrupted;
    const int64_t first = state_.batch_in_epoch;
    const int64_t last = std::min(num_batches, first + accum);
    int64_t items = 0;
    for (int64_t b = first; b < last; ++b) items += plan.global_items[static_cast<size_t>(b)];
    const double loss = countedStep([&](int64_t step) { return task_->trainStep(first, last, items, step); });
    state_.batch_in_epoch = last;
    state_.items_in_epoch += items;
    s->items += items;
    s->loss_sum += loss;
    ++s->loss_steps;
    logStep(*s, loss, since(t_epoch));
    if (cfg_.train.checkpoint_every > 0 && state_.step % cfg_.train.checkpoint_every == 0) {
      saveCheckpoint(stepDirName(state_.step));
    }
  }
  s->seconds = since(t_epoch);
  return EpochEnd::kDone;
}

bool Trainer::finishEpoch(EpochSummary& s, FitResult* result) {
  const double loss_sum = task_->meanOverRanks(s.loss_sum);
  phase(parallel::Phase::kEval);
  EpochReport r;
  r.scores = task_->evaluate();
  r.epoch = state_.epoch + 1;  // 1-based, for people
  r.epochs = cfg_.train.epochs;
  r.step = state_.step;
  r.train_loss = s.loss_steps > 0 ? loss_sum / static_cast<double>(s.loss_steps) : 0.0;
  r.items_per_s = s.seconds > 0 ? static_cast<double>(s.items) / s.seconds : 0.0;
  r.seconds = s.seconds;
  s.progress->finish();
  if (const std::string line = task_->epochLine(r); !line.empty()) core::log::info0("{}", line);
  nlohmann::json m = {{"event", "epoch"}, {"epoch", r.epoch}, {"step", r.step}};
  m.update(task_->epochMetrics(r));
  metrics_.write(m);
  ++result->epochs_run;
  const bool improved = selectEpoch(&state_, r.scores, r.train_loss, r.epoch, cfg_.train.select);
  state_.epoch = r.epoch;  // the next epoch, from its first batch
  state_.batch_in_epoch = 0;
  state_.items_in_epoch = 0;
  if (improved) {
    if (task_->checkpointing() != nullptr) phase(parallel::Phase::kCheckpoint);
    TrainState best = state_;
    best.elapsed_seconds = elapsedSeconds();
    task_->keepBest(best);
  }
  saveCheckpoint(stepDirName(state_.step));
  if (patienceExhausted(state_, cfg_.train.patience)) {
    core::log::info0("early stopping: the selection score (train.select: {}) has not improved for {} epochs "
                     "(best {:.4f} at epoch {})",
                     core::enumName(cfg_.train.select), state_.epochs_since_best, state_.best_score,
                     state_.best_epoch);
    return true;
  }
  return false;
}

// Rank 0's folder decides (the others may have disks of their own, unread).
void Trainer::refuseUsedOutDir(bool overwrite) {
  if (task_->checkpointing() == nullptr) return;
  const std::vector<std::string> found = task_->root() ? ckpt_->existing() : std::vector<std::string>{};
  if (!task_->anyRank(!found.empty())) return;
  if (overwrite) {
    if (task_->root()) {
      core::log::warn0("--overwrite: removing {} checkpoint(s) of an earlier run in {}", found.size(), ckpt_->dir());
      ckpt_->clear();
      fs::remove(fs::path(cfg_.run.out_dir) / "metrics.jsonl");
    }
    task_->checkpointing()->barrier();
    return;
  }
  std::string names;
  for (size_t i = 0; i < found.size() && i < 3; ++i) names += (i ? ", " : "") + found[i];
  if (found.size() > 3) names += ", ...";
  if (!task_->root()) names = "see world rank 0's message";
  throw ConfigError("run.out_dir=" + cfg_.run.out_dir + " already holds checkpoints (" + ckpt_->dir() + ": " + names +
                    "); continue that run with --resume, choose another run.out_dir, or pass --overwrite to "
                    "replace them");
}

// The root takes the newest step checkpoint that verifies (LATEST is not
// trusted over a newer complete one); every rank gets its choice.
void Trainer::resumeFromNewest() {
  Checkpointing* cp = task_->checkpointing();
  if (cp == nullptr) throw ConfigError("this model kind starts from scratch: drop --resume");
  std::optional<CheckpointInfo> chosen;
  std::string error;
  if (task_->root()) {
    const std::vector<std::string> candidates = ckpt_->resumeCandidates();
    std::string skipped;
    for (const auto& dir : candidates) {
      try {
        chosen = openCheckpoint(dir, /*prefer_best=*/false);
        break;
      } catch (const CheckpointError& e) {
        core::log::warn("skipping checkpoint {}: {}", dir, e.what());
        skipped += std::string(skipped.empty() ? "" : "; ") + e.what();
      }
    }
    if (candidates.empty()) {
      error = ckpt_->dir() + ": --resume given but no checkpoint exists (no step-* folder)";
    } else if (!chosen) {
      error = ckpt_->dir() + ": --resume found no checkpoint that verifies (" + skipped + ")";
    }
  }
  const CheckpointInfo info = cp->fromRoot(chosen, error);
  restore(info);
  core::log::info0("resumed from {} at step {} (epoch {}, batch {})", info.dir, state_.step, state_.epoch + 1,
                   state_.batch_in_epoch);
}

FitResult Trainer::fit(bool resume, bool overwrite) {
  if (resume) {
    resumeFromNewest();
  } else {
    refuseUsedOutDir(overwrite);
  }
  if (task_->root() && task_->checkpointing() != nullptr) {
    metrics_ = MetricsWriter((fs::path(cfg_.run.out_dir) / "metrics.jsonl").string(), resume);
  }
  if (const std::string what = task_->describe(); !what.empty()) core::log::info0("{}", what);
  t_start_ = std::chrono::steady_clock::now();
  FitResult result;
  result.metric = task_->metricName();
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
  if (end != EpochEnd::kDone && last_saved_step_ != state_.step) saveCheckpoint(stepDirName(state_.step));
  result.interrupted = end == EpochEnd::kInterrupted;
  if (result.interrupted) {
    core::log::warn0("interrupted at step {} (epoch {}, batch {}); checkpoint saved, continue with --resume",
                     state_.step, state_.epoch + 1, state_.batch_in_epoch);
  }
  result.steps = state_.step;
  result.best_score = state_.best_score;
  result.best_epoch = state_.best_epoch;
  result.test_metric = state_.test_metric_at_best;
  if (!result.interrupted) task_->finish(state_, &result);
  result.seconds = elapsedSeconds();
  phase(parallel::Phase::kDone);
  metrics_.write({{"event", "done"}, {"step", state_.step}, {"best_epoch", state_.best_epoch},
                  {"best_score", state_.best_score}, {"select", core::enumName(cfg_.train.select)},
                  {"test_" + task_->metricName(), result.test_metric}, {"seconds", result.seconds}});
  return result;
}

}  // namespace autoglm::trainer
