#include "launch/serve/log_throttle.h"

namespace autoglm::launch::serve {

std::optional<uint64_t> LogThrottle::note(Clock::time_point now) {
  ++pending_;
  if (last_ && now - *last_ < period_) return std::nullopt;
  last_ = now;
  const uint64_t n = pending_;
  pending_ = 0;
  return n;
}

}  // namespace autoglm::launch::serve
