#pragma once
// A pipeline step predicted by running the schedule's real action tables
// (parallel/pipeline/schedule.h) on modelled costs: each stage runs its
// actions in order; a compute action takes its stage's time, a send hands the
// message to the link (it arrives alpha + bytes * beta later; the sender goes
// on), a receive waits until its message has arrived. The makespan is the
// step's pipeline time; the bubble is the stages' idle share of it.

#include <cstdint>
#include <vector>

#include "comm/cost/collective_cost.h"
#include "parallel/pipeline/schedule.h"

namespace autoglm::trainer::simulate {

struct StageCosts {
  double forward_s = 0.0;   // one micro-batch
  double backward_s = 0.0;  // one micro-batch; with a split backward (zb-h1) the input-gradient part
  double weight_s = 0.0;    // zb-h1's weight-gradient part (W actions)
};

struct PipelineReplayInputs {
  std::vector<StageCosts> stages;        // one per stage
  double activation_bytes = 0.0;         // one micro-batch's activation (and its gradient) between stages
  std::vector<comm::cost::LinkCost> links;  // links[s]: between stage s and s+1 (stages - 1 of them)
};

struct PipelineReplay {
  double makespan_s = 0.0;
  double bubble = 0.0;             // 1 - busy / (stages x makespan)
  std::vector<double> busy_s;      // compute per stage
  std::vector<double> finish_s;    // when each stage ran its last action
};

// Throws ConfigError when the costs do not match the table (stages, links) and
// Error when the table deadlocks (checkSchedule() finds that first).
PipelineReplay replayPipeline(const parallel::pipeline::Table& table, const PipelineReplayInputs& in);

}  // namespace autoglm::trainer::simulate
