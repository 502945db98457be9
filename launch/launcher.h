#pragma once
// autoglm-launch: starts the ranks of a job through mpirun under a supervisor
// (supervisor.h), and restarts a failed job from its newest checkpoint.
//
//   autoglm-launch [-n N | --hostfile FILE] [--max-restarts K] [--heartbeat-timeout S]
//                  [--mpirun-arg ARG]... train --config FILE [--set key=value]...
//   autoglm-launch [...] exec PROGRAM [ARGS]...   (a program that links the supervisor client)
//
// Before anything starts it validates the config and the layout (dp*tp*pp must
// equal the number of ranks; all 1 means dp = ranks).

#include <string>
#include <vector>

#include "launch/supervisor.h"

namespace autoglm::launch {

struct LaunchOptions {
  int ranks = 0;                 // -n; 0: from the hostfile (sum of slots), else 1
  std::string hostfile;
  int max_restarts = 0;
  SupervisorOptions supervisor;
  std::vector<std::string> mpirun_args;
  std::string mpirun = "mpirun";
  std::string autoglm;           // the autoglm executable; default: beside autoglm-launch
  std::string supervisor_address;  // what ranks connect to; default: 127.0.0.1, or this host's address with a hostfile
  // train: the config and overrides; exec: the program and its arguments.
  bool exec = false;
  std::string config;
  std::vector<std::string> overrides;
  bool resume = false;
  std::vector<std::string> command;
};

// Runs the job; returns the exit status for the process (0 done, 2 config
// error, 1 failed after the restarts, 130 when SIGINT or SIGTERM stopped it:
// the ranks saved a checkpoint, as they do under plain mpirun, and nothing is
// restarted). Prints progress and the report of each
// failure on stderr; its last line says how it ended and after how many restarts.
int runLaunch(const LaunchOptions& opts);

// Slots in a hostfile ("host slots=N" per line; a host without slots counts 1).
int hostfileSlots(const std::string& path);

}  // namespace autoglm::launch
