#pragma once
// The start-up check of a knowledge-graph layout against each rank's memory
// limit. A rank's limit is run.memory_limit when set, else its cgroup's limit
// divided among the ranks of the job on the same host in the same cgroup
// (they share it), else none. What a rank needs is kgMemoryNeed() plus what
// the process holds already (its resident set when the check runs: the
// graph, the filter's input, LibTorch). When any rank's need exceeds its
// limit, every rank throws the same ConfigError, naming that rank, the
// figures, and the smallest parallel.tp that would fit.

#include "core/kg/kg_dataset.h"
#include "parallel/process_grid.h"
#include "trainer/config/experiment_config.h"

namespace autoglm::trainer {

// Collective over grid.world().
void checkKgMemory(const ExperimentConfig& cfg, const core::kg::KgDataset& data, const parallel::ParallelGrid& grid);

// This process's resident set in bytes (/proc/self/statm), 0 when unknown.
int64_t residentBytes();

}  // namespace autoglm::trainer
