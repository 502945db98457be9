#pragma once
// The parallel layout and data-parallel settings, YAML section `parallel:`.

#include <cstdint>

#include "core/yaml_config.h"
#include "parallel/data_parallel/compression/compression_config.h"
#include "parallel/data_parallel/reducer_options.h"
#include "parallel/pipeline/pipeline_config.h"

namespace autoglm::parallel {

struct ParallelConfig {
  int64_t dp = 1;  // data parallel
  int64_t tp = 1;  // tensor parallel
  int64_t pp = 1;  // pipeline stages
  // Gradient buckets of the data-parallel reducer, in MiB (PyTorch DDP's default).
  double bucket_mb = 25.0;
  data_parallel::ReducerMode reducer_mode = data_parallel::ReducerMode::kOverlap;
  data_parallel::compression::CompressionConfig compression;
  pipeline::PipelineConfig pipeline;

  template <class V>
  void visit(V& v) {
    v.field("dp", dp, core::check::atLeast<int64_t>(1));
    v.field("tp", tp, core::check::atLeast<int64_t>(1));
    v.field("pp", pp, core::check::atLeast<int64_t>(1));
    v.field("bucket_mb", bucket_mb, core::check::greaterThan(0.0));
    v.field("reducer_mode", reducer_mode);
    v.section("compression", compression);
    v.section("pipeline", pipeline);
  }
  // The one check of the layout against the number of ranks. Throws
  // ConfigError "parallel: dp*tp*pp = 2*2*2 = 8 does not equal world size 4".
  void validate(int world_size) const;
};

}  // namespace autoglm::parallel
