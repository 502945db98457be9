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
};

// Returns 0 or throws autoglm::Error (ConfigError for bad files, flags or overrides).
int runSimulate(const SimulateOptions& opts, std::ostream& out);

}  // namespace autoglm::launch
