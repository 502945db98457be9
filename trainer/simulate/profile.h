#pragma once
// `autoglm simulate --profile CONFIG`: a workload (simulate_config.h) measured
// from one of this framework's experiments on one process, so that the model
// projects our own jobs rather than figures typed in by hand:
//
//   - the dense parameters in the order the reducer registers them;
//   - forward (collation included), backward and optimizer seconds of one step
//     at the config's per-rank batch: the median over timed steps of the
//     trainer's own phase clocks (StepRunner::phaseTimes), after warm-up;
//   - each compressor's own work per gradient element: its reduce() on a bucket
//     of the model's size over a group of one (the casts, sign packing, top-k
//     selection and error feedback run; the collectives are copies);
//   - the reducer's own passes per element (what it adds from 2 ranks on: copy
//     into the bucket, finiteness check, division, copy back), timed on
//     tensors of the model's size;
//   - the process's peak resident memory after the steps.
//
// Graph classification (model.kind gat) only; the profiled process is alone
// (the layout is forced to 1 x 1 x 1, the batch stays the per-rank batch).

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "trainer/config/experiment_config.h"
#include "trainer/simulate/simulate_config.h"

namespace autoglm::trainer::simulate {

struct ProfileOptions {
  int64_t warmup_steps = 3;
  int64_t steps = 10;
  int64_t compress_repeats = 5;  // reduce() calls per compressor (median)
};

struct ProfileResult {
  WorkloadConfig workload;
  double step_ms_median = 0.0;
  double step_ms_min = 0.0;
  double step_ms_max = 0.0;
  double peak_rss_mb = 0.0;
  int64_t row_sparse_parameters = 0;  // elements whose gradients travel as rows (modelled as dense)
};

// Throws ConfigError for a model kind other than gat or steps < 1.
ProfileResult profileExperiment(const ExperimentConfig& cfg, const ProfileOptions& opts, std::ostream& log);

// The compressors' work per element (nanoseconds) on a bucket of `numel` float32 elements.
CompressCompute measureCompressors(int64_t numel, int64_t repeats, const ExperimentConfig& cfg);

// The reducer's passes over `numel` float32 elements, nanoseconds per element.
double measureReducerPasses(int64_t numel, int64_t repeats);

// The workload as a YAML file `loadWorkload` reads back, with `comment` lines first.
void writeWorkloadYaml(const WorkloadConfig& w, const std::vector<std::string>& comment, std::ostream& out);

}  // namespace autoglm::trainer::simulate
