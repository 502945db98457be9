// The log throttle: the first event is reported at once, a flood of them as
// one count per period, and nothing is lost between lines.

#include "launch/serve/log_throttle.h"

#include <gtest/gtest.h>

namespace autoglm::launch::serve {
namespace {

using namespace std::chrono_literals;

TEST(LogThrottle, FirstEventAtOnceThenOneCountPerPeriod) {
  LogThrottle t(10s);
  const auto t0 = LogThrottle::Clock::time_point{} + 1h;
  EXPECT_EQ(t.note(t0), std::optional<uint64_t>(1));
  int lines = 0;
  uint64_t reported = 1;
  for (int ms = 1; ms <= 25000; ++ms) {  // one event a millisecond for 25 s
    if (auto n = t.note(t0 + std::chrono::milliseconds(ms))) {
      ++lines;
      reported += *n;
    }
  }
  EXPECT_EQ(lines, 2);  // at 10 s and at 20 s
  EXPECT_EQ(reported + t.pending(), 25001u);
  const uint64_t held = t.pending();  // the events after the line at 20 s
  EXPECT_EQ(t.note(t0 + 40s), std::optional<uint64_t>(held + 1));
  EXPECT_EQ(t.pending(), 0u);
}

}  // namespace
}  // namespace autoglm::launch::serve
