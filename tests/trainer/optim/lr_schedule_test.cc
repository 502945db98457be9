#include "trainer/optim/lr_schedule.h"

#include <gtest/gtest.h>

namespace autoglm::trainer {
namespace {

TEST(LrSchedule, WarmsUpLinearlyThenDecaysByCosine) {
  LrSchedule s{1.0, 4, 104, ScheduleKind::kCosine, 0.1};
  EXPECT_DOUBLE_EQ(s.at(0), 0.25);
  EXPECT_DOUBLE_EQ(s.at(3), 1.0);
  EXPECT_DOUBLE_EQ(s.at(4), 1.0);
  EXPECT_NEAR(s.at(54), 0.1 + 0.9 * 0.5, 1e-12);  // half-way through the decay
  EXPECT_NEAR(s.at(104), 0.1, 1e-12);
  EXPECT_NEAR(s.at(500), 0.1, 1e-12);  // stays at the floor
  for (int64_t t = 5; t < 104; ++t) EXPECT_LE(s.at(t), s.at(t - 1));
}

TEST(LrSchedule, ConstantAfterWarmup) {
  LrSchedule s{0.5, 0, 10, ScheduleKind::kConstant, 0.0};
  EXPECT_DOUBLE_EQ(s.at(0), 0.5);
  EXPECT_DOUBLE_EQ(s.at(9), 0.5);
}

}  // namespace
}  // namespace autoglm::trainer
