#pragma once
// Weak scaling of a workload on a cluster: the data-parallel step predicted
// (dp_step_model.h) at each rank count and compressor, the batch of each
// data-parallel replica held fixed. Efficiency = throughput at p ranks /
// (p x throughput at one rank), the measure Horovod's published figures use:
// step(1) / step(p) without a pipeline, step(1) / (stages x step(p)) with one
// (a replica then spans `stages` ranks; its step is the pipeline replay of the
// schedule's tables, pipeline_replay.h, plus each stage's gradient reduction),
// step(1) / (tp x step(p)) with tensor parallelism (a replica spans tp ranks,
// each computing 1 / tp of it and running tp_step_model.h's collectives).

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "parallel/data_parallel/compression/compression_config.h"
#include "trainer/simulate/dp_step_model.h"
#include "trainer/simulate/simulate_config.h"

namespace autoglm::trainer::simulate {

struct ScalingRow {
  int64_t ranks = 1;
  int64_t nodes = 1;
  parallel::data_parallel::compression::CompressionType compressor =
      parallel::data_parallel::compression::CompressionType::kNone;
  DpStepPrediction step;
  double bubble = 0.0;  // the pipeline's idle share (0 without one)
  double tp_s = 0.0;    // tensor parallelism's collectives (in step, exposed and busy time)
  double samples_per_s = 0.0;
  double efficiency = 1.0;
  double memory_mb = 0.0;  // per rank (WorkloadConfig::memoryPerRankMb; 0 = not known)
};

// Powers of two times the workload's pipeline stages, up to the cluster's ranks.
std::vector<int64_t> defaultRankCounts(const ClusterConfig& cluster, int64_t stages = 1);

// Throws ConfigError for a rank count the cluster does not have or that the
// pipeline stages do not divide.
std::vector<ScalingRow> sweepDataParallel(const WorkloadConfig& workload, const ClusterConfig& cluster,
                                          const std::vector<int64_t>& ranks,
                                          const std::vector<parallel::data_parallel::compression::CompressionType>&
                                              compressors);

// A Markdown table, one row per (ranks, compressor).
void printScalingTable(const std::vector<ScalingRow>& rows, std::ostream& out);
// CSV with a header line.
void writeScalingCsv(const std::vector<ScalingRow>& rows, std::ostream& out);

}  // namespace autoglm::trainer::simulate
