#pragma once
// Progress of a long loop on stderr: a redrawn bar on a terminal, plain lines
// (about every 10% or 30 s) otherwise, nothing when off.
//
//   Progress p("epoch 3/20", total_batches, mode);
//   p.update(done, "loss 0.123  1520 graphs/s");
//   p.finish();   // clears the bar; the caller logs the summary

#include <array>
#include <chrono>
#include <cstdint>
#include <string>

#include "core/yaml_config.h"

namespace autoglm::trainer {

// train.progress: a bar on a terminal and lines otherwise (auto), always a bar,
// always lines, or nothing.
enum class ProgressMode { kAuto, kBar, kLines, kOff };
constexpr std::array<core::EnumName<ProgressMode>, 4> enumNames(ProgressMode) {
  return {{{ProgressMode::kAuto, "auto"}, {ProgressMode::kBar, "bar"}, {ProgressMode::kLines, "lines"},
           {ProgressMode::kOff, "off"}}};
}

class Progress {
 public:
  Progress(std::string label, int64_t total, ProgressMode mode);
  void update(int64_t done, const std::string& status);
  void finish();

 private:
  std::string label_;
  int64_t total_;
  ProgressMode mode_;  // never kAuto
  std::chrono::steady_clock::time_point start_, last_print_;
  int64_t last_decile_ = -1;
  bool drawn_ = false;
};

}  // namespace autoglm::trainer
