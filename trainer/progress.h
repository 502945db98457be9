#pragma once
// Progress of a long loop on stderr: a redrawn bar on a terminal, plain lines
// (about every 10% or 30 s) otherwise, nothing when off.
//
//   Progress p("epoch 3/20", total_batches, mode);
//   p.update(done, "loss 0.123  1520 graphs/s");
//   p.finish();   // clears the bar; the caller logs the summary

#include <chrono>
#include <cstdint>
#include <string>

namespace autoglm::trainer {

class Progress {
 public:
  // mode: "auto" (bar on a terminal, else lines), "bar", "lines", "off".
  Progress(std::string label, int64_t total, const std::string& mode);
  void update(int64_t done, const std::string& status);
  void finish();

 private:
  enum class Mode { kBar, kLines, kOff };
  std::string label_;
  int64_t total_;
  Mode mode_;
  std::chrono::steady_clock::time_point start_, last_print_;
  int64_t last_decile_ = -1;
  bool drawn_ = false;
};

}  // namespace autoglm::trainer
