#pragma once
// Settings of pipeline parallelism, YAML section `parallel.pipeline`.

#include <array>
#include <cstdint>
#include <vector>

#include "core/yaml_config.h"

namespace autoglm::parallel::pipeline {

// gpipe: every forward, then every backward. 1f1b: after a warm-up of
// (stages - stage - 1) forwards, one forward and one backward in turn (at most
// stages - stage micro-batches in flight). zb-h1: 1F1B with each backward split
// into its input-gradient pass (B) and weight-gradient pass (W), the W passes
// moved into the gaps the others leave (Qi et al. 2023, ZB-H1); a stage holds
// at most as many micro-batches as in 1F1B (until their W pass).
enum class ScheduleKind { kGpipe, k1F1B, kZbH1 };
constexpr std::array<core::EnumName<ScheduleKind>, 3> enumNames(ScheduleKind) {
  return {{{ScheduleKind::kGpipe, "gpipe"}, {ScheduleKind::k1F1B, "1f1b"}, {ScheduleKind::kZbH1, "zb-h1"}}};
}

struct PipelineConfig {
  int64_t micro_batches = 4;  // per rank and optimizer step, balanced by edge count
  ScheduleKind schedule = ScheduleKind::k1F1B;
  // First part (of embed, block0, ..., readout, head) of stages 1..pp-1; empty:
  // balanced by the parts' costs measured at start-up.
  std::vector<int64_t> boundaries;

  template <class V>
  void visit(V& v) {
    v.field("micro_batches", micro_batches, core::check::atLeast<int64_t>(1));
    v.field("schedule", schedule);
    v.field("boundaries", boundaries);
  }
};

}  // namespace autoglm::parallel::pipeline
