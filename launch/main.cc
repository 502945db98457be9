// autoglm: command-line entry point. Parses arguments and dispatches to the
// trainer's commands; maps errors to one line on stderr and an exit status
// (2 for configuration errors, 1 for everything else).

#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <iostream>

#include "autoglm/config.h"
#include "core/error.h"
#include "core/host_runtime.h"
#include "core/log.h"
#include "launch/supervisor_client.h"
#include "trainer/commands.h"

namespace {

// Set by SIGINT/SIGTERM; the trainer checks it between steps, saves a checkpoint and
// returns. A second signal exits at once.
std::atomic<bool> g_stop{false};

extern "C" void onStopSignal(int sig) {
  if (g_stop.exchange(true)) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
}

// This process's rank and the job's size, as mpirun tells its ranks (0 and 1
// when started without it).
int launchedValue(std::initializer_list<const char*> vars, int fallback) {
  for (const char* var : vars) {
    if (const char* v = std::getenv(var); v != nullptr && *v != '\0') return std::atoi(v);
  }
  return fallback;
}

void addConfigOptions(CLI::App* cmd, autoglm::trainer::ConfigArgs* args) {
  cmd->add_option("config", args->config, "Experiment YAML file");
  cmd->add_option("--config,-c", args->config, "Experiment YAML file");
  cmd->add_option("--set", args->overrides, "Override a config value: key.path=value (repeatable)");
}

}  // namespace

int main(int argc, char** argv) {
  namespace tr = autoglm::trainer;
  autoglm::core::configureHostRuntime();
  autoglm::core::log::init();
  CLI::App app{"Open-AutoGLM: graph attention networks over text, trained at scale"};
  app.set_version_flag("--version", std::string("autoglm ") + AUTOGLM_VERSION);
  app.require_subcommand(1);

  tr::ConfigArgs train_args;
  tr::TrainOptions train_opts;
  auto* train = app.add_subcommand("train", "Train a model from a YAML config");
  addConfigOptions(train, &train_args);
  auto* resume = train->add_flag("--resume", train_opts.resume, "Continue from the run's newest checkpoint that verifies");
  train->add_flag("--overwrite", train_opts.overwrite, "Start afresh even if run.out_dir holds checkpoints (removed)")
      ->excludes(resume);
  std::string supervisor;
  int attempt = 0;
  train->add_option("--supervisor", supervisor, "HOST:PORT of the autoglm-launch supervisor (set by autoglm-launch)");
  train->add_option("--attempt", attempt, "Attempt number under autoglm-launch (set by it)");

  tr::ConfigArgs prep_args;
  bool force = false;
  auto* prepare = app.add_subcommand("prepare", "Build the binary graph cache for a config's data");
  addConfigOptions(prepare, &prep_args);
  prepare->add_flag("--force", force, "Rebuild even when the cache is up to date");

  std::string eval_ckpt;
  std::vector<std::string> eval_overrides;
  auto* eval = app.add_subcommand("eval", "Evaluate a checkpoint on the test split");
  eval->add_option("--checkpoint", eval_ckpt, "Checkpoint or run directory")->required();
  eval->add_option("--set", eval_overrides, "Override a config value, e.g. data.dir=...");

  std::string pred_ckpt;
  auto* predict = app.add_subcommand("predict", "Classify text lines from stdin");
  predict->add_option("--checkpoint", pred_ckpt, "Checkpoint or run directory")->required();

  tr::ConfigArgs show_args;
  auto* config = app.add_subcommand("config", "Config utilities");
  config->require_subcommand(1);
  auto* show = config->add_subcommand("show", "Print the resolved config");
  addConfigOptions(show, &show_args);

  CLI11_PARSE(app, argc, argv);
  try {
    if (*train) {
      std::signal(SIGINT, onStopSignal);
      std::signal(SIGTERM, onStopSignal);
      train_opts.stop = &g_stop;
      std::shared_ptr<autoglm::launch::SupervisorClient> client;
      if (!supervisor.empty()) {
        client = std::make_shared<autoglm::launch::SupervisorClient>(
            supervisor, launchedValue({"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"}, 0),
            launchedValue({"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE"}, 1), attempt);
        train_opts.comm_observer = client;
        train_opts.run_observer = client.get();
        train_opts.on_error = [client](const std::string& m) { client->reportError(m); };
      }
      const int rc = tr::runTrain(train_args, train_opts);
      return rc;
    }
    if (*prepare) return tr::runPrepare(prep_args, force);
    if (*eval) return tr::runEval(eval_ckpt, eval_overrides);
    if (*predict) return tr::runPredict(pred_ckpt, std::cin, std::cout);
    if (*show) return tr::runConfigShow(show_args, std::cout);
  } catch (const autoglm::ConfigError& e) {
    std::cerr << "autoglm: config error: " << e.what() << std::endl;
    return 2;
  } catch (const autoglm::Error& e) {
    std::cerr << "autoglm: error: " << e.what() << std::endl;
    return 1;
  } catch (const c10::Error& e) {
    std::cerr << "autoglm: error: " << e.what_without_backtrace() << std::endl;
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "autoglm: error: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
