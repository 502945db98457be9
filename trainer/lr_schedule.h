#pragma once
// Learning rate at a step: linear warm-up from 0 to lr over warmup_steps, then
// constant or cosine decay to min_lr_ratio * lr at total_steps.

#include <cstdint>
#include <string>

namespace autoglm::trainer {

struct LrSchedule {
  double lr = 1e-3;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  std::string kind = "cosine";
  double min_lr_ratio = 0.0;

  double at(int64_t step) const;  // step counts from 0
};

}  // namespace autoglm::trainer
