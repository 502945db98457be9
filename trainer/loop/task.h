#pragma once
// A model family as the training loop (trainer/loop/trainer.h) sees it: what
// differs between graph classification, the transductive corpus GCN and the
// families to come (knowledge-graph completion), behind one small interface.
// The loop owns what every family shares: epochs, steps, the stop request,
// model selection and early stopping (selection.h), the train state,
// checkpoint names and pruning, resume, metrics and the progress line.
//
// How the batch type stays out of the loop: neither a template nor a type-
// erased batch object, but positions. A task plans each epoch itself (this
// rank's batches, of whatever type, kept inside the task) and tells the loop
// only how many there are and how many items (graphs, triples) each global
// batch holds; the loop asks for one step over the batches [first, last) of
// the epoch it plans. So the loop is compiled once, never sees a GraphBatch,
// and its resume cursor (items of the epoch done, all ranks together) works
// for any batch type. For knowledge-graph completion the plan is the epoch's
// triple batches (negatives drawn inside the task at step time), an item is a
// triple, the metric is the filtered MRR, and the entity table is one more
// part its model shards over tp like the vocabulary.
//
// A task is built collectively on every rank of the run's grid; every method
// below is collective over the ranks that the task says (the loop calls them
// on every rank in the same order).

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "parallel/run_observer.h"
#include "trainer/checkpoint/checkpoint.h"
#include "trainer/loop/train_state.h"

namespace autoglm::trainer {

// One epoch's batches, as the loop sees them.
struct EpochPlan {
  // Per batch of this rank, in order: the items the global batch holds on all
  // ranks together (every rank takes the same number of batches).
  std::vector<int64_t> global_items;
  int64_t size() const { return static_cast<int64_t>(global_items.size()); }
};

// The task's scores at an epoch's end. Selection reads the validation metric
// (or loss); the test split is scored each epoch only by tasks that report it.
struct Scores {
  bool has_validation = true;
  double val_metric = 0.0, val_loss = 0.0;
  std::optional<double> test_metric, test_loss;
};

// What the loop knows of an epoch that ended, for the task's epoch line.
struct EpochReport {
  int64_t epoch = 0;   // 1-based
  int64_t epochs = 0;  // train.epochs
  int64_t step = 0;    // optimizer steps done
  double train_loss = 0.0;
  double items_per_s = 0.0;
  double seconds = 0.0;  // the epoch's
  Scores scores;
};

// What a run reports at its end.
struct FitResult {
  std::string metric = "accuracy";  // the task's metricName()
  double test_metric = 0.0;  // of the best epoch's model
  double best_score = 0.0;   // its selection score (train.select)
  int64_t best_epoch = -1;   // 1-based
  int64_t epochs_run = 0;
  int64_t steps = 0;
  double seconds = 0.0;
  bool stopped_early = false;
  bool interrupted = false;  // stopped on request; a checkpoint was saved
};

// What a task that keeps checkpoints provides: resume, --init-from, best/.
class Checkpointing {
 public:
  virtual ~Checkpointing() = default;
  // Writes checkpoint `name` ("step-NNNNNNNN", "best") holding `state`.
  virtual void save(const std::string& name, const TrainState& state) = 0;
  // Restores the model and optimizer of `ckpt` and returns its train state.
  virtual TrainState restore(const CheckpointInfo& ckpt) = 0;
  // The checkpoint the root chose to resume from, on every rank (the others
  // may not see the root's disk: data parallel needs no shared file system).
  // on_root: the root's choice; error: why it has none. Throws CheckpointError
  // with the root's error on every rank when it has none.
  virtual CheckpointInfo fromRoot(const std::optional<CheckpointInfo>& on_root, const std::string& error) = 0;
  // Fine-tuning (--init-from): start from this checkpoint's parameters.
  virtual void initFrom(const CheckpointInfo& ckpt) = 0;
  // Every rank waits for the others (after rank 0 cleared an out_dir).
  virtual void barrier() = 0;
};

class Task {
 public:
  virtual ~Task() = default;

  // "graphs", "documents", "triples": what an item is (progress and metrics:
  // "<item>_per_s").
  virtual std::string itemName() const = 0;
  // What the validation and test metric is ("accuracy", "mrr"), for metrics.
  virtual std::string metricName() const = 0;
  // Rank 0 of the whole job: it logs, writes metrics and commits checkpoints.
  virtual bool root() const = 0;
  // The learning rate the schedule gives step `step` (0-based), for metrics.
  virtual double learningRate(int64_t step) const = 0;
  // Told the phases of each step (null: nobody).
  virtual void setObserver(parallel::RunObserver* observer) { (void)observer; }
  // One line of what is trained ("training 5485 graphs (...), N parameters").
  virtual std::string describe() const = 0;

  // This rank's batches of `epoch` (0-based). Called once per epoch, and again
  // on resume at another data-parallel size.
  virtual EpochPlan planEpoch(int64_t epoch) = 0;
  // One optimizer step over batches [first, last) of that plan; items: the
  // global items of those batches. `step` is 0-based. Returns this rank's loss.
  virtual double trainStep(int64_t first, int64_t last, int64_t items, int64_t step) = 0;
  // Mean of the ranks' per-step losses (their sum of `loss_sum`), for the epoch.
  virtual double meanOverRanks(double loss_sum) = 0;
  // True on every rank when any rank's `local` is (a stop request).
  virtual bool anyRank(bool local) = 0;

  // Scores at the end of an epoch.
  virtual Scores evaluate() = 0;
  // The epoch's line for people, or "" to log none this epoch.
  virtual std::string epochLine(const EpochReport& r) const = 0;
  // The epoch's metrics record beyond the loop's (event, epoch, step).
  virtual nlohmann::json epochMetrics(const EpochReport& r) const = 0;
  // The epoch just scored is the best so far: keep it (a "best" checkpoint,
  // or a copy in memory).
  virtual void keepBest(const TrainState& state) = 0;

  // Its checkpoints (Checkpointing above), or null for a task that starts
  // from scratch every time and writes its own outputs in finish(): the loop
  // then saves nothing, refuses --resume and writes no metrics.jsonl.
  virtual Checkpointing* checkpointing() { return nullptr; }
  // The fields of a fresh state that describe this run (classes, vocabulary,
  // layout), checked and kept on resume.
  virtual void describeRun(TrainState* state) const { (void)state; }

  // After the last epoch (not after an interrupted one): the task's own end
  // (outputs, a refit). `state` holds the selection; `result` holds what the
  // loop ran, and the task sets its test_metric (and adds what it ran more).
  virtual void finish(const TrainState& state, FitResult* result) = 0;
};

}  // namespace autoglm::trainer
