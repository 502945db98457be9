// Pipeline schedules as tables, the symbolic check, micro-batches by edges and
// the stage plan.

#include "parallel/pipeline/schedule.h"

#include <gtest/gtest.h>

#include <set>

#include "core/error.h"
#include "parallel/pipeline/micro_batches.h"
#include "parallel/pipeline/stage_plan.h"

namespace autoglm::parallel::pipeline {
namespace {

std::string errorOf(const Table& t, bool split) {
  try {
    checkSchedule(t, split);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Schedule, EveryScheduleIsCompleteAndPassesTheCheck) {
  for (ScheduleKind kind : {ScheduleKind::kGpipe, ScheduleKind::k1F1B, ScheduleKind::kZbH1}) {
    for (int p : {1, 2, 3, 4}) {
      for (int m : {1, 2, 3, 4, 8}) {
        const Table t = buildSchedule(kind, p, m);
        ASSERT_EQ(static_cast<int>(t.size()), p);
        EXPECT_EQ(errorOf(t, splitsBackward(kind)), "(no error)") << core::enumName(kind) << " p=" << p << " m=" << m
                                                                  << "\n" << printSchedule(t);
        for (int s = 0; s < p; ++s) {
          int f = 0, b = 0, w = 0;
          for (const Action& a : t[s]) {
            f += a.kind == ActionKind::kForward;
            b += a.kind == ActionKind::kBackward;
            w += a.kind == ActionKind::kWeight;
          }
          EXPECT_EQ(f, m);
          EXPECT_EQ(b, m);
          EXPECT_EQ(w, splitsBackward(kind) ? m : 0);
        }
      }
    }
  }
}

TEST(Schedule, OneFOneBOnTwoStages) {
  const Table t = buildSchedule(ScheduleKind::k1F1B, 2, 4);
  EXPECT_EQ(printSchedule(t), "  stage 0: F0 SA0 F1 SA1 RG0 B0 F2 SA2 RG1 B1 F3 SA3 RG2 B2 RG3 B3\n"
                              "  stage 1: RA0 F0 B0 SG0 RA1 F1 B1 SG1 RA2 F2 B2 SG2 RA3 F3 B3 SG3\n");
}

TEST(Schedule, BubbleOfOneFOneBIsTheTextbookOneAndZeroBubbleIsBelow) {
  for (int p : {2, 4}) {
    for (int m : {4, 8}) {
      const double textbook = static_cast<double>(p - 1) / (m + p - 1);
      EXPECT_NEAR(simulatedBubble(ScheduleKind::k1F1B, p, m), textbook, 1e-9) << p << " " << m;
      EXPECT_NEAR(simulatedBubble(ScheduleKind::kGpipe, p, m), textbook, 1e-9) << p << " " << m;
      EXPECT_LT(simulatedBubble(ScheduleKind::kZbH1, p, m), textbook) << p << " " << m;
    }
  }
}

TEST(Schedule, TheCheckRejectsBadTablesBeforeAnythingRuns) {
  // A send nobody receives.
  Table t = buildSchedule(ScheduleKind::k1F1B, 2, 2);
  t[0].insert(t[0].begin() + 2, Action{ActionKind::kSendAct, 0});
  std::string e = errorOf(t, false);
  EXPECT_NE(e.find("<-- ERROR HERE"), std::string::npos) << e;
  // Receives in the wrong order.
  t = buildSchedule(ScheduleKind::kGpipe, 2, 2);
  std::swap(t[1][0], t[1][2]);  // RA1 F1 ... before RA0 F0
  e = errorOf(t, false);
  EXPECT_NE(e.find("unmatched send/recv order"), std::string::npos) << e;
  // A deadlock: both stages wait first.
  t = {{{ActionKind::kRecvGrad, 0}, {ActionKind::kForward, 0}, {ActionKind::kSendAct, 0}},
       {{ActionKind::kRecvAct, 0}, {ActionKind::kForward, 0}, {ActionKind::kSendGrad, 0}}};
  e = errorOf(t, false);
  EXPECT_NE(e.find("deadlock"), std::string::npos) << e;
  EXPECT_NE(e.find("stage 0: RG0 <-- ERROR HERE"), std::string::npos) << e;
}

TEST(MicroBatches, BalancedByEdgesConsecutiveAndComplete) {
  std::vector<int64_t> graphs{0, 1, 2, 3, 4, 5, 6, 7};
  const std::vector<int64_t> edges{100, 10, 10, 10, 10, 10, 40, 10};
  const auto parts = splitByEdges(graphs, 2, [&](int64_t g) { return edges[static_cast<size_t>(g)]; });
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0], (std::vector<int64_t>{0}));                      // 100 edges
  EXPECT_EQ(parts[1], (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7}));    // 100 edges
  const auto few = splitByEdges({3}, 4, [](int64_t) { return 5; });
  int64_t n = 0;
  for (const auto& p : few) n += static_cast<int64_t>(p.size());
  EXPECT_EQ(n, 1) << "fewer graphs than micro-batches: some are empty";
}

TEST(StagePlan, BalancedAndExplicit) {
  const StagePlan b = balancedStages({1, 4, 4, 1, 1}, 2);
  EXPECT_EQ(b.first, (std::vector<size_t>{0, 2}));
  EXPECT_EQ(b.describe({"embed", "block0", "block1", "readout", "head"}), "embed..block0 | block1..head");
  EXPECT_EQ(stagesFromBoundaries({1, 3}, 5, 3).first, (std::vector<size_t>{0, 1, 3}));
  EXPECT_THROW(stagesFromBoundaries({3, 1}, 5, 3), ConfigError);
  EXPECT_THROW(stagesFromBoundaries({1}, 5, 3), ConfigError);
  EXPECT_THROW(balancedStages({1, 1}, 3), ConfigError);
}

}  // namespace
}  // namespace autoglm::parallel::pipeline
