#include "trainer/simulate/pipeline_replay.h"

#include <algorithm>
#include <map>
#include <utility>

#include "core/error.h"

namespace autoglm::trainer::simulate {

namespace pp = parallel::pipeline;

PipelineReplay replayPipeline(const pp::Table& table, const PipelineReplayInputs& in) {
  const size_t stages = table.size();
  if (in.stages.size() != stages) {
    throw ConfigError(detail::concat("pipeline replay: ", in.stages.size(), " stage costs for ", stages, " stages"));
  }
  if (stages > 0 && in.links.size() != stages - 1) {
    throw ConfigError(detail::concat("pipeline replay: ", in.links.size(), " links for ", stages, " stages (need ",
                                     stages - 1, ")"));
  }
  // Arrival times of messages: key (kind 0 = activation into stage s, 1 = gradient into s; s; micro).
  std::map<std::tuple<int, size_t, int>, double> arrived;
  std::vector<size_t> next(stages, 0);
  std::vector<double> clock(stages, 0.0);
  PipelineReplay out;
  out.busy_s.assign(stages, 0.0);
  size_t remaining = 0;
  for (const auto& row : table) remaining += row.size();
  while (remaining > 0) {
    bool progressed = false;
    for (size_t s = 0; s < stages; ++s) {
      while (next[s] < table[s].size()) {
        const pp::Action& a = table[s][next[s]];
        const StageCosts& c = in.stages[s];
        double& t = clock[s];
        bool done = true;
        switch (a.kind) {
          case pp::ActionKind::kForward:
            t += c.forward_s;
            out.busy_s[s] += c.forward_s;
            break;
          case pp::ActionKind::kBackward:
            t += c.backward_s;
            out.busy_s[s] += c.backward_s;
            break;
          case pp::ActionKind::kWeight:
            t += c.weight_s;
            out.busy_s[s] += c.weight_s;
            break;
          case pp::ActionKind::kSendAct:
            if (s + 1 >= stages) throw Error(detail::concat("pipeline replay: stage ", s, " sends an activation past the last stage"));
            arrived[{0, s + 1, a.micro}] = t + in.links[s].seconds(in.activation_bytes);
            break;
          case pp::ActionKind::kSendGrad:
            if (s == 0) throw Error("pipeline replay: stage 0 sends a gradient before the first stage");
            arrived[{1, s - 1, a.micro}] = t + in.links[s - 1].seconds(in.activation_bytes);
            break;
          case pp::ActionKind::kRecvAct:
          case pp::ActionKind::kRecvGrad: {
            const int kind = a.kind == pp::ActionKind::kRecvAct ? 0 : 1;
            const auto it = arrived.find({kind, s, a.micro});
            if (it == arrived.end()) {
              done = false;
            } else {
              t = std::max(t, it->second);
              arrived.erase(it);
            }
            break;
          }
        }
        if (!done) break;
        ++next[s];
        --remaining;
        progressed = true;
      }
    }
    if (!progressed) {
      throw Error(detail::concat("pipeline replay: the schedule deadlocks with ", remaining, " actions left"));
    }
  }
  out.finish_s = clock;
  out.makespan_s = stages ? *std::max_element(clock.begin(), clock.end()) : 0.0;
  double busy = 0;
  for (double b : out.busy_s) busy += b;
  out.bubble = out.makespan_s > 0 ? 1.0 - busy / (static_cast<double>(stages) * out.makespan_s) : 0.0;
  return out;
}

}  // namespace autoglm::trainer::simulate
