#pragma once
// Which of the model's parts (embed, block0, ..., readout, head) each pipeline
// stage holds: contiguous slices, the embedding on the first stage, readout
// and head (and so the loss) on the last.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace autoglm::parallel::pipeline {

struct StagePlan {
  std::vector<size_t> first;  // first part of each stage; first[0] == 0
  size_t parts = 0;           // parts in the model
  int stages() const { return static_cast<int>(first.size()); }
  size_t begin(int stage) const { return first[static_cast<size_t>(stage)]; }
  size_t end(int stage) const { return stage + 1 < stages() ? first[static_cast<size_t>(stage) + 1] : parts; }
  std::string describe(const std::vector<std::string>& names) const;  // "embed..block0 | block1..head"
};

// From parallel.pipeline.boundaries (the first part of stages 1..pp-1). Throws
// ConfigError naming the key when there are not pp-1 increasing boundaries
// inside (0, parts).
StagePlan stagesFromBoundaries(const std::vector<int64_t>& boundaries, size_t parts, int pp);

// The contiguous split into pp stages whose costliest stage costs least.
// Throws ConfigError when there are fewer parts than stages.
StagePlan balancedStages(const std::vector<double>& part_costs, int pp);

// Throws ConfigError naming parallel.pp when `pp` stages cannot each hold one
// of `parts` parts (or pp < 1).
void checkStageCount(size_t parts, int pp);

}  // namespace autoglm::parallel::pipeline
