#include "parallel/pipeline/schedule.h"

#include <algorithm>
#include <deque>
#include <limits>

#include "core/error.h"

namespace autoglm::parallel::pipeline {
namespace {

using autoglm::detail::concat;

struct Placed {
  std::vector<std::vector<Action>> order;  // compute actions per stage
  int makespan = 0;
  int busy = 0;
};

// Unit-cost simulation of the compute actions under the schedule's policy.
Placed place(ScheduleKind kind, int p, int m) {
  const bool split = splitsBackward(kind);
  const int b_cost = split ? 1 : 2;
  const int inf = std::numeric_limits<int>::max() / 2;
  // Finish times: f[s][k], b[s][k], w[s][k] (inf = not yet).
  std::vector<std::vector<int>> f(p, std::vector<int>(m, inf)), b = f, w = f;
  std::vector<int> next_f(p, 0), next_b(p, 0), next_w(p, 0), free_at(p, 0);
  Placed out;
  out.order.resize(p);
  const int total = p * m * (split ? 3 : 2);
  int done = 0;
  for (int t = 0; done < total; ++t) {
    AUTOGLM_CHECK(t <= 4 * (total + p) + 8, "pipeline schedule simulation made no progress");
    for (int s = 0; s < p; ++s) {
      if (free_at[s] > t) continue;
      const bool gpipe = kind == ScheduleKind::kGpipe;
      const int limit = gpipe ? m : p - s;
      // In flight: forwards whose activations are still held (until the W
      // pass in zb-h1, so that it holds no more than 1F1B does).
      const int held = next_f[s] - (split ? next_w[s] : next_b[s]);
      const bool can_f = next_f[s] < m && (s == 0 || f[s - 1][next_f[s]] <= t) && held < limit;
      const bool can_b = next_b[s] < next_f[s] && f[s][next_b[s]] <= t && (s == p - 1 || b[s + 1][next_b[s]] <= t) &&
                         (!gpipe || next_f[s] == m);
      const bool can_w = split && next_w[s] < next_b[s] && b[s][next_w[s]] <= t;
      // GPipe: every forward, then the backwards. 1F1B and ZB-H1: a ready
      // backward first, else a forward; ZB-H1 fills what is left with W passes.
      ActionKind pick;
      if (gpipe ? can_f : (can_f && !can_b)) {
        pick = ActionKind::kForward;
      } else if (can_b) {
        pick = ActionKind::kBackward;
      } else if (can_w) {
        pick = ActionKind::kWeight;
      } else {
        continue;
      }
      const int cost = pick == ActionKind::kBackward ? b_cost : 1;
      int k = 0;
      if (pick == ActionKind::kForward) {
        k = next_f[s]++;
        f[s][k] = t + cost;
      } else if (pick == ActionKind::kBackward) {
        k = next_b[s]++;
        b[s][k] = t + cost;
      } else {
        k = next_w[s]++;
        w[s][k] = t + cost;
      }
      free_at[s] = t + cost;
      out.order[s].push_back({pick, k});
      out.busy += cost;
      ++done;
      out.makespan = std::max(out.makespan, free_at[s]);
    }
  }
  return out;
}

}  // namespace

std::string toString(const Action& a) {
  static const char* names[] = {"F", "B", "W", "SA", "RA", "SG", "RG"};
  return std::string(names[static_cast<int>(a.kind)]) + std::to_string(a.micro);
}

bool splitsBackward(ScheduleKind kind) { return kind == ScheduleKind::kZbH1; }

Table buildSchedule(ScheduleKind kind, int p, int m) {
  AUTOGLM_CHECK(p >= 1 && m >= 1, "schedule of ", p, " stages and ", m, " micro-batches");
  const Placed placed = place(kind, p, m);
  Table table(p);
  for (int s = 0; s < p; ++s) {
    for (const Action& a : placed.order[s]) {
      if (a.kind == ActionKind::kForward) {
        if (s > 0) table[s].push_back({ActionKind::kRecvAct, a.micro});
        table[s].push_back(a);
        if (s < p - 1) table[s].push_back({ActionKind::kSendAct, a.micro});
      } else if (a.kind == ActionKind::kBackward) {
        if (s < p - 1) table[s].push_back({ActionKind::kRecvGrad, a.micro});
        table[s].push_back(a);
        if (s > 0) table[s].push_back({ActionKind::kSendGrad, a.micro});
      } else {
        table[s].push_back(a);
      }
    }
  }
  return table;
}

std::string printSchedule(const Table& table, int mark_stage, size_t mark_index) {
  std::string out;
  for (size_t s = 0; s < table.size(); ++s) {
    out += concat("  stage ", s, ":");
    for (size_t i = 0; i < table[s].size(); ++i) {
      out += " " + toString(table[s][i]);
      if (static_cast<int>(s) == mark_stage && i == mark_index) out += " <-- ERROR HERE";
    }
    out += "\n";
  }
  return out;
}

namespace {

// After the symbolic run: a stage that did not finish waits forever; a message
// left in a channel was never received.
void checkLeftovers(const Table& t, const std::vector<size_t>& pc, const std::vector<std::deque<Action>>& act,
                    const std::vector<std::deque<Action>>& grad) {
  const int p = static_cast<int>(t.size());
  auto fail = [&](int s, size_t i, const std::string& why) {
    throw Error("pipeline schedule: stage " + std::to_string(s) + ": " + why + "\n" + printSchedule(t, s, i));
  };
  for (int s = 0; s < p; ++s) {
    if (pc[s] < t[s].size()) fail(s, pc[s], "deadlock: waits for a message that never comes");
  }
  for (int s = 0; s < p; ++s) {
    if (!act[s].empty()) {
      for (size_t i = 0; i < t[s].size(); ++i) {
        if (t[s][i] == Action{ActionKind::kSendAct, act[s].front().micro}) fail(s, i, "a send nobody receives");
      }
    }
    if (s + 1 < p && !grad[s].empty()) {
      for (size_t i = 0; i < t[s + 1].size(); ++i) {
        if (t[s + 1][i] == Action{ActionKind::kSendGrad, grad[s].front().micro}) fail(s + 1, i, "a send nobody receives");
      }
    }
  }
}

}  // namespace

void checkSchedule(const Table& t, bool split) {
  const int p = static_cast<int>(t.size());
  std::vector<std::deque<Action>> act(p), grad(p);  // act[s]: s -> s+1; grad[s]: s+1 -> s
  std::vector<size_t> pc(p, 0);
  std::vector<std::vector<char>> fdone(p), bdone(p), radone(p), rgdone(p);
  int m = 0;
  for (const auto& row : t) {
    for (const Action& a : row) m = std::max(m, a.micro + 1);
  }
  for (int s = 0; s < p; ++s) fdone[s] = bdone[s] = radone[s] = rgdone[s] = std::vector<char>(m, 0);
  auto fail = [&](int s, size_t i, const std::string& why) {
    throw Error("pipeline schedule: stage " + std::to_string(s) + ": " + why + "\n" + printSchedule(t, s, i));
  };
  for (bool progress = true; progress;) {
    progress = false;
    for (int s = 0; s < p; ++s) {
      while (pc[s] < t[s].size()) {
        const Action a = t[s][pc[s]];
        const int k = a.micro;
        bool ran = true;
        switch (a.kind) {
          case ActionKind::kSendAct:
            if (s == p - 1) fail(s, pc[s], "the last stage has no next stage to send to");
            if (!fdone[s][k]) fail(s, pc[s], "sends the activation of micro-batch " + std::to_string(k) + " before its forward");
            act[s].push_back({ActionKind::kSendAct, k});
            break;
          case ActionKind::kSendGrad:
            if (s == 0) fail(s, pc[s], "the first stage has no previous stage to send to");
            if (!bdone[s][k]) fail(s, pc[s], "sends a gradient before its backward");
            grad[s - 1].push_back({ActionKind::kSendGrad, k});
            break;
          case ActionKind::kRecvAct:
          case ActionKind::kRecvGrad: {
            const bool is_act = a.kind == ActionKind::kRecvAct;
            if ((is_act && s == 0) || (!is_act && s == p - 1)) fail(s, pc[s], "receives from a stage that does not exist");
            auto& ch = is_act ? act[s - 1] : grad[s];
            if (ch.empty()) {
              ran = false;
              break;
            }
            if (ch.front().micro != k) {
              fail(s, pc[s], "expects micro-batch " + std::to_string(k) + " but the next message is " +
                                 toString(ch.front()) + " (unmatched send/recv order)");
            }
            ch.pop_front();
            (is_act ? radone : rgdone)[s][k] = 1;
            break;
          }
          case ActionKind::kForward:
            if (s > 0 && !radone[s][k]) fail(s, pc[s], "forward without its activation received");
            fdone[s][k] = 1;
            break;
          case ActionKind::kBackward:
            if (!fdone[s][k]) fail(s, pc[s], "backward before its forward");
            if (s < p - 1 && !rgdone[s][k]) fail(s, pc[s], "backward without its gradient received");
            bdone[s][k] = 1;
            break;
          case ActionKind::kWeight:
            if (!split) fail(s, pc[s], "a weight pass in a schedule that does not split backward");
            if (!bdone[s][k]) fail(s, pc[s], "weight pass before its backward");
            break;
        }
        if (!ran) break;
        ++pc[s];
        progress = true;
      }
    }
  }
  checkLeftovers(t, pc, act, grad);
}

double simulatedBubble(ScheduleKind kind, int stages, int micro_batches) {
  const Placed placed = place(kind, stages, micro_batches);
  return 1.0 - static_cast<double>(placed.busy) / (static_cast<double>(stages) * placed.makespan);
}

}  // namespace autoglm::parallel::pipeline
