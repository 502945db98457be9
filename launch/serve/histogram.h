#pragma once
// A Prometheus histogram: counts of observations at or below each upper
// bound, their sum and count. observe() is lock-free and thread-safe.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace autoglm::launch::serve {

class Histogram {
 public:
  // `bounds`: increasing upper bounds; +Inf is implied.
  explicit Histogram(std::vector<double> bounds);

  void observe(double value);

  // The `<name>_bucket{le="..."}` (cumulative), `<name>_sum` and
  // `<name>_count` lines of the text format 0.0.4 (no HELP/TYPE lines).
  std::string render(const std::string& name) const;

  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1, not cumulative
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0.0};
};

// "0.0005", "5", "+Inf": a number as Prometheus labels and values spell it.
std::string formatMetricValue(double value);

}  // namespace autoglm::launch::serve
