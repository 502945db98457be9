#pragma once
// The autoglm subcommands as functions, so the CLI (main.cc) stays a thin
// parser and tests can call them. `train` validates the whole experiment
// (trainer/config/validate.h) before MPI starts work and before any data is
// prepared, then builds the model kind's task (trainer/tasks/make_task.h) and
// runs the one training loop over it. Each returns the process exit code or throws an
// autoglm::Error (the CLI prints it as one line: ConfigError -> 2, others -> 1).

#include <atomic>
#include <functional>
#include <memory>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "comm/observer.h"
#include "parallel/run_observer.h"

namespace autoglm::launch {

struct ConfigArgs {
  std::string config;
  std::vector<std::string> overrides;  // "key.path=value"
};

struct TrainOptions {
  bool resume = false;     // continue from the newest checkpoint that verifies
  bool overwrite = false;  // a fresh run may replace checkpoints already in run.out_dir
  // Fine-tuning: start from this checkpoint's parameters (fresh optimizer), with
  // its config unless a config file is given, and, with data_file, train on
  // that file of text<TAB>label lines (trainer/tasks/graph_classification/feedback_data.h).
  std::string init_from;
  std::string data_file;
  // Set by a signal handler: training ends at the next step with a checkpoint,
  // and the exit code is 130.
  const std::atomic<bool>* stop = nullptr;
  // Watchers of the run (the supervisor client): the world communicator and
  // its splits, and the trainer's phases. Either may be null.
  std::shared_ptr<comm::CollectiveObserver> comm_observer;
  parallel::RunObserver* run_observer = nullptr;
  // Told the one-line error a rank ends the job with, before it does.
  std::function<void(const std::string& message, bool config_error)> on_error;
};

// With pretrain.epochs > 0 a fresh run (no --init-from, no --resume) first
// pre-trains the encoder in this process (runPretrain's checkpoint), then
// trains from those parameters with a fresh optimizer.
int runTrain(const ConfigArgs& args, const TrainOptions& opts);
// Contrastive pre-training (trainer/tasks/pretrain/pretrainer.h) on one process; writes the
// checkpoint under <run.out_dir>/pretrain and prints its directory to `out`.
int runPretrain(const ConfigArgs& args, std::ostream& out);
int runPrepare(const ConfigArgs& args, bool force);
int runConfigShow(const ConfigArgs& args, std::ostream& out);
// Evaluates the checkpoint on the test split of its data (or of data_dir when
// given). A kg_completion checkpoint: filtered ranking of its graph's test
// split (kg.filter, --set kg.data_dir=... to point elsewhere), printed as one
// JSON line {"queries", "mrr", "mr", "hits1", "hits3", "hits10",
// "per_relation": {name: {...}}, "checkpoint", "data_dir", "filter", "seconds"}.
int runEval(const std::string& checkpoint, const std::vector<std::string>& overrides);
// Reads one document per line from `in`, writes "<label>\t<probability>" per
// line (with early exit, a third column: the blocks computed). overrides:
// "infer.exit_threshold=0.9" and the like.
int runPredict(const std::string& checkpoint, const std::vector<std::string>& overrides, std::istream& in,
               std::ostream& out);

// `autoglm serve --host H --port P`: appends "serve.host=H" and
// "serve.port=P" (those given) to `overrides`, after the --set ones, so that
// the flags win over --set and over the config's serve: section.
void addServeAddress(const std::optional<std::string>& host, const std::optional<int>& port,
                     std::vector<std::string>& overrides);

}  // namespace autoglm::launch
