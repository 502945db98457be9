#pragma once
// Rate-limited logging of a repeated event (a refused connection, a failed
// accept): the first event is reported at once, later ones as one count per
// period, so that a flood of them writes a line every `period`, not one per
// event. Not thread-safe: use it from one strand.
//
//   if (auto n = throttle.note(now)) log::warn("... {} time(s) ...", *n);

#include <chrono>
#include <cstdint>
#include <optional>

namespace autoglm::launch::serve {

class LogThrottle {
 public:
  using Clock = std::chrono::steady_clock;

  explicit LogThrottle(Clock::duration period) : period_(period) {}

  // Counts one event at `now`. Returns the events to report (this one and
  // those held back since the last report) when a line is due: for the first
  // event, and then for the first one at least `period` after the last line.
  std::optional<uint64_t> note(Clock::time_point now);

  // Events counted but not reported yet.
  uint64_t pending() const { return pending_; }

 private:
  Clock::duration period_;
  std::optional<Clock::time_point> last_;  // when the last line was due
  uint64_t pending_ = 0;
};

}  // namespace autoglm::launch::serve
