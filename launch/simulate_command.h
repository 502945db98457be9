#pragma once
// `autoglm simulate WORKLOAD --cluster CLUSTER.yaml`: the performance model
// (trainer/simulate) swept over rank counts and compressors, printed as a
// Markdown table and written as CSV. --set key=value overrides either file:
// keys under cluster. go to the cluster file, under workload. to the workload.

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace autoglm::launch {

struct SimulateOptions {
  std::string workload;
  std::string cluster;
  std::vector<std::string> overrides;
  std::vector<int64_t> ranks;             // empty: powers of two up to the cluster's ranks
  std::vector<std::string> compressors;   // empty: the workload's own
  std::string csv;                        // written when set
  // `--profile CONFIG`: measure a workload from an experiment instead
  // (trainer/simulate/profile.h); overrides then go to the experiment.
  std::string profile;
  int64_t profile_steps = 10;
  std::string out;  // the workload YAML (stdout when empty)
};

// `autoglm simulate --profile CONFIG [--set key=value] [--steps N] [--out FILE]`:
// the experiment's workload measured on this process, written as YAML.
int runProfile(const SimulateOptions& opts, std::ostream& out);

// `autoglm simulate --fit TIMINGS.csv`: alpha and beta of a link fitted
// (comm/cost/alpha_beta_fit.h) to all-reduce timings in the CSV that
// benchmarks/collective writes (columns ranks, bytes and `column`, in
// microseconds), one fit per rank count, printed with the cluster-file lines
// that use it. Throws DataError naming the file and line of a bad row.
struct FitOptions {
  std::string csv;
  std::string column = "ours_us";
};
int runFit(const FitOptions& opts, std::ostream& out);

// The CLI's choice: --fit alone, --profile CONFIG, or a workload with --cluster (ConfigError otherwise).
int runSimulateCommand(const SimulateOptions& simulate, const FitOptions& fit, std::ostream& out);

// Returns 0 or throws autoglm::Error (ConfigError for bad files, flags or overrides).
int runSimulate(const SimulateOptions& opts, std::ostream& out);

}  // namespace autoglm::launch
