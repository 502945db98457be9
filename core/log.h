#pragma once
// Logging facade: one place that formats lines with the rank prefix.
//
//   log::init();                          // once, from main(): stderr logger, LibTorch warnings routed here
//   log::setRank(rank, world);
//   log::info("epoch {} done", e);        // every rank, "[rank 1/4] ..." when world > 1
//   log::info0("test acc {:.4f}", acc);   // rank 0 only

#include <spdlog/spdlog.h>

#include <string>

namespace autoglm::core::log {

// Installs the stderr logger and routes LibTorch's warnings through it. Called
// by each executable's main() (setRank() calls it too); idempotent.
void init();
void setRank(int rank, int world);
int rank();
void setLevel(const std::string& level);  // "debug", "info", "warn", "error"

template <typename... Args>
void info(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::info(fmt, std::forward<Args>(args)...);
}
template <typename... Args>
void warn(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::warn(fmt, std::forward<Args>(args)...);
}
template <typename... Args>
void debug(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::debug(fmt, std::forward<Args>(args)...);
}
template <typename... Args>
void error(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::error(fmt, std::forward<Args>(args)...);
}
template <typename... Args>
void info0(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  if (rank() == 0) spdlog::info(fmt, std::forward<Args>(args)...);
}
template <typename... Args>
void warn0(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  if (rank() == 0) spdlog::warn(fmt, std::forward<Args>(args)...);
}

}  // namespace autoglm::core::log
