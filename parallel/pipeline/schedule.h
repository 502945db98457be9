#pragma once
// A pipeline schedule is data: for every stage, the list of actions it runs in
// one optimizer step, built before anything runs, checked by a symbolic run,
// printable (torch's pipelining schedules are the model).
//
//   F k   forward of micro-batch k          SA k / RA k  send / receive its activation
//   B k   backward of micro-batch k (with W split off in zb-h1: the input
//         gradient only)                    SG k / RG k  send / receive its gradient
//   W k   weight-gradient pass of micro-batch k (zb-h1)
//
// buildSchedule() places the compute actions by simulating the stages with
// unit costs (F 1, B 1, W 1; an unsplit backward 2) and a policy per schedule
// (which ready action a free stage takes, how many micro-batches may be in
// flight), then puts each receive right before the action that needs it and
// each send right after the action that produced it.
//
// checkSchedule() runs the tables symbolically: a send never blocks, a
// receive waits for the matching message at the head of its channel (stage
// s -> s+1 for activations, s+1 -> s for gradients), compute waits for what it
// needs. A deadlock, a receive whose message does not match, a message never
// received or a compute action without its inputs throws Error with the grid
// printed and "<-- ERROR HERE" at the failing action.

#include <cstddef>
#include <string>
#include <vector>

#include "parallel/pipeline/pipeline_config.h"

namespace autoglm::parallel::pipeline {

enum class ActionKind { kForward, kBackward, kWeight, kSendAct, kRecvAct, kSendGrad, kRecvGrad };

struct Action {
  ActionKind kind;
  int micro;
  bool operator==(const Action& o) const { return kind == o.kind && micro == o.micro; }
};

using Table = std::vector<std::vector<Action>>;  // [stage][step]

// "F3", "RA3", ...
std::string toString(const Action& a);

// Whether the schedule splits backward into B and W.
bool splitsBackward(ScheduleKind kind);

Table buildSchedule(ScheduleKind kind, int stages, int micro_batches);

// Throws Error (see above). split_backward: W actions must follow their B.
void checkSchedule(const Table& table, bool split_backward);

// One line per stage; with mark_stage >= 0 "<-- ERROR HERE" after that
// stage's action mark_index.
std::string printSchedule(const Table& table, int mark_stage = -1, size_t mark_index = 0);

// Idle fraction of the simulated (unit-cost) schedule, summed over stages:
// 1 - busy / (stages x makespan). 1F1B and GPipe: (p-1)/(m+p-1).
double simulatedBubble(ScheduleKind kind, int stages, int micro_batches);

}  // namespace autoglm::parallel::pipeline
