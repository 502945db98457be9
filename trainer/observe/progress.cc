#include "trainer/observe/progress.h"

#include <unistd.h>

#include <cstdio>

namespace autoglm::trainer {
namespace {
std::string formatDuration(double secs) {
  const auto s = static_cast<int64_t>(secs + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%lld:%02lld", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  return buf;
}
}  // namespace

Progress::Progress(std::string label, int64_t total, ProgressMode mode)
    : label_(std::move(label)), total_(total > 0 ? total : 1), mode_(mode) {
  if (mode_ == ProgressMode::kAuto) mode_ = ::isatty(STDERR_FILENO) ? ProgressMode::kBar : ProgressMode::kLines;
  start_ = last_print_ = std::chrono::steady_clock::now();
}

void Progress::update(int64_t done, const std::string& status) {
  if (mode_ == ProgressMode::kOff) return;
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double frac = static_cast<double>(done) / static_cast<double>(total_);
  const double eta = done > 0 ? elapsed * (1.0 - frac) / frac : 0.0;
  if (mode_ == ProgressMode::kBar) {
    if (std::chrono::duration<double>(now - last_print_).count() < 0.1 && done < total_) return;
    last_print_ = now;
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(frac * kWidth);
    std::string bar;
    for (int i = 0; i < kWidth; ++i) bar += i < filled ? "#" : "-";
    std::fprintf(stderr, "\r\033[K%s [%s] %lld/%lld %s eta %s", label_.c_str(), bar.c_str(),
                 static_cast<long long>(done), static_cast<long long>(total_), status.c_str(),
                 formatDuration(eta).c_str());
    std::fflush(stderr);
    drawn_ = true;
    return;
  }
  const int64_t decile = done * 10 / total_;
  const bool time_due = std::chrono::duration<double>(now - last_print_).count() >= 30.0;
  if (decile == last_decile_ && !time_due) return;
  if (done >= total_) return;  // the caller logs the summary line
  last_decile_ = decile;
  last_print_ = now;
  std::fprintf(stderr, "%s %lld/%lld (%d%%) %s eta %s\n", label_.c_str(), static_cast<long long>(done),
               static_cast<long long>(total_), static_cast<int>(frac * 100), status.c_str(),
               formatDuration(eta).c_str());
  std::fflush(stderr);
}

void Progress::finish() {
  if (mode_ == ProgressMode::kBar && drawn_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  }
}

}  // namespace autoglm::trainer
