#pragma once
// Watching a training run from outside (the supervisor's heartbeats, traces):
// the training loop, the tasks' steps and the pipeline executor say which phase they are in and when a step ended.
// Calls come from the training thread; implementations are cheap.

#include <array>
#include <cstdint>

#include "core/yaml_config.h"

namespace autoglm::parallel {

enum class Phase { kStartup, kForward, kBackward, kReduce, kOptimizer, kCheckpoint, kEval, kDone };
constexpr std::array<core::EnumName<Phase>, 8> enumNames(Phase) {
  return {{{Phase::kStartup, "startup"},
           {Phase::kForward, "forward"},
           {Phase::kBackward, "backward"},
           {Phase::kReduce, "reduce"},
           {Phase::kOptimizer, "optimizer"},
           {Phase::kCheckpoint, "checkpoint"},
           {Phase::kEval, "eval"},
           {Phase::kDone, "done"}}};
}

class RunObserver {
 public:
  virtual ~RunObserver() = default;
  // `step`: optimizer steps done so far.
  virtual void onPhase(Phase phase, int64_t step) = 0;
  virtual void onStepEnd(int64_t step, double seconds) = 0;
};

}  // namespace autoglm::parallel
