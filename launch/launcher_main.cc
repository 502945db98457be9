// autoglm-launch: command-line entry point of the launcher (launcher.h).

#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>

#include "core/error.h"
#include "core/log.h"
#include "launch/launcher.h"

int main(int argc, char** argv) {
  autoglm::core::log::init();
  autoglm::launch::LaunchOptions o;
  CLI::App app{"autoglm-launch: run an autoglm job through mpirun under a supervisor"};
  app.add_option("-n,--ranks", o.ranks, "Number of ranks (default: the hostfile's slots, else 1)");
  app.add_option("--hostfile", o.hostfile, "mpirun hostfile (several hosts)")->check(CLI::ExistingFile);
  app.add_option("--max-restarts", o.max_restarts, "Restart a failed job from its newest checkpoint up to K times")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--heartbeat-timeout", o.supervisor.floor_s,
                 "Seconds of silence that mark a rank hung; also the least a collective may wait (default 10)")
      ->check(CLI::PositiveNumber);
  app.add_option("--checkpoint-timeout", o.supervisor.checkpoint_s,
                 "Least seconds a collective may wait in the checkpoint phase (default 120; grows with observed "
                 "checkpoint times)")
      ->check(CLI::PositiveNumber);
  app.add_option("--eval-timeout", o.supervisor.eval_s,
                 "Least seconds a collective may wait in the evaluation phase (default 120; grows with observed "
                 "evaluation times)")
      ->check(CLI::PositiveNumber);
  app.add_option("--startup-timeout", o.supervisor.startup_s,
                 "Seconds a collective may wait before the first step, data preparation included (default 1800)")
      ->check(CLI::PositiveNumber);
  app.add_option("--mpirun-arg", o.mpirun_args, "Passed to mpirun (repeatable), e.g. --mpirun-arg=--oversubscribe");
  app.add_option("--mpirun", o.mpirun, "mpirun to use");
  app.add_option("--autoglm", o.autoglm, "autoglm executable (default: the one beside autoglm-launch)");
  app.add_option("--supervisor-address", o.supervisor_address,
                 "Address the ranks connect to (default 127.0.0.1; with --hostfile this host's first address)");
  app.require_subcommand(1);
  auto* train = app.add_subcommand("train", "Train a config");
  train->add_option("config", o.config, "Experiment YAML file");
  train->add_option("--config,-c", o.config, "Experiment YAML file");
  train->add_option("--set", o.overrides, "Override a config value: key.path=value (repeatable)");
  train->add_flag("--resume", o.resume, "Start from the run's newest checkpoint");
  auto* exec = app.add_subcommand("exec", "Run a program that links the supervisor client");
  exec->add_option("command", o.command, "Program and arguments")->required();
  exec->prefix_command();
  CLI11_PARSE(app, argc, argv);
  o.exec = exec->parsed();
  if (exec->parsed()) {
    for (const auto& rest : exec->remaining()) o.command.push_back(rest);
  }
  std::signal(SIGPIPE, SIG_IGN);
  try {
    if (!o.exec && o.config.empty()) throw autoglm::ConfigError("train: no config file given (use --config FILE)");
    return autoglm::launch::runLaunch(o);
  } catch (const autoglm::ConfigError& e) {
    std::cerr << "autoglm-launch: config error: " << e.what() << std::endl;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "autoglm-launch: error: " << e.what() << std::endl;
    return 1;
  }
}
