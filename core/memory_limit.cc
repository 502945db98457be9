#include "core/memory_limit.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace autoglm::core {
namespace fs = std::filesystem;

namespace {

std::optional<std::string> firstLine(const fs::path& p) {
  std::ifstream in(p);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  return line;
}

std::optional<int64_t> limitValue(const std::string& text) {
  if (text.empty() || text == "max") return std::nullopt;
  try {
    const long double v = std::stold(text);
    if (v <= 0 || v >= static_cast<long double>(int64_t{1} << 62)) return std::nullopt;
    return static_cast<int64_t>(v);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

std::string cgroupPath() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    // v2: "0::/path"; v1: "N:memory:/path".
    const size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1);
    if (controllers.empty() || controllers.find("memory") != std::string::npos) return line.substr(b + 1);
  }
  return "";
}

std::optional<int64_t> cgroupMemoryLimit(const std::string& root) {
  const fs::path own = fs::path(cgroupPath()).relative_path();
  std::optional<int64_t> best;
  // The process's cgroup and its ancestors (the tightest limit binds): v2's
  // memory.max under the mount, v1's memory.limit_in_bytes under memory/.
  for (const auto& [base, file] : {std::pair<fs::path, const char*>{fs::path(root), "memory.max"},
                                   {fs::path(root) / "memory", "memory.limit_in_bytes"}}) {
    for (fs::path p = base / own;; p = p.parent_path()) {
      if (const auto line = firstLine(p / file)) {
        if (const auto v = limitValue(*line)) best = best ? std::min(*best, *v) : *v;
      }
      if (p == base || p.parent_path() == p || p.string().size() <= base.string().size()) break;
    }
  }
  return best;
}

int64_t parseBytes(const std::string& text, const std::string& key) {
  size_t pos = 0;
  double value = 0;
  try {
    value = std::stod(text, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  std::string unit = text.substr(pos);
  while (!unit.empty() && std::isspace(static_cast<unsigned char>(unit.front()))) unit.erase(0, 1);
  double scale = -1;
  const std::pair<const char*, double> units[] = {
      {"", 1},          {"B", 1},           {"K", 1024.0},      {"KiB", 1024.0},    {"KB", 1e3},
      {"M", 1048576.0}, {"MiB", 1048576.0}, {"MB", 1e6},        {"G", 1073741824.0}, {"GiB", 1073741824.0},
      {"GB", 1e9},      {"T", 1099511627776.0}, {"TiB", 1099511627776.0}, {"TB", 1e12}};
  for (const auto& [name, s] : units) {
    if (unit == name) scale = s;
  }
  if (pos == 0 || scale < 0 || !(value > 0) || !std::isfinite(value)) {
    throw ConfigError(fmt::format("{}: \"{}\" is not a size (a positive number with an optional unit: B, KiB, MiB, "
                                  "GiB, TiB, or KB, MB, GB, TB)", key, text));
  }
  return static_cast<int64_t>(value * scale);
}

std::string formatBytes(int64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (b >= 1073741824.0) return fmt::format("{:.2f} GiB", b / 1073741824.0);
  if (b >= 1048576.0) return fmt::format("{:.1f} MiB", b / 1048576.0);
  return fmt::format("{:.1f} KiB", b / 1024.0);
}

}  // namespace autoglm::core
