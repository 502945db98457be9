#pragma once
// Learning rate at a step: linear warm-up from 0 to lr over warmup_steps, then
// constant or cosine decay to min_lr_ratio * lr at total_steps.

#include <array>
#include <cstdint>

#include "core/yaml_config.h"

namespace autoglm::trainer {

enum class ScheduleKind { kCosine, kConstant };
constexpr std::array<core::EnumName<ScheduleKind>, 2> enumNames(ScheduleKind) {
  return {{{ScheduleKind::kCosine, "cosine"}, {ScheduleKind::kConstant, "constant"}}};
}

struct LrSchedule {
  double lr = 1e-3;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  ScheduleKind kind = ScheduleKind::kCosine;
  double min_lr_ratio = 0.0;

  double at(int64_t step) const;  // step counts from 0
};

}  // namespace autoglm::trainer
