#include "core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include "core/error.h"

namespace autoglm::log {
namespace {
int g_rank = 0;

void configure(int rank, int world) {
  // Logs go to stderr so that stdout stays clean for results (predict, config show).
  auto logger = spdlog::stderr_color_mt("autoglm");
  spdlog::set_default_logger(logger);
  if (world > 1) {
    spdlog::set_pattern("[%H:%M:%S] [rank " + std::to_string(rank) + "/" + std::to_string(world) +
                        "] [%^%l%$] %v");
  } else {
    spdlog::set_pattern("[%H:%M:%S] [%^%l%$] %v");
  }
}

struct Init {
  Init() { configure(0, 1); }
} g_init;
}  // namespace

void setRank(int rank, int world) {
  g_rank = rank;
  spdlog::drop("autoglm");
  configure(rank, world);
}

int rank() { return g_rank; }

void setLevel(const std::string& level) {
  auto l = spdlog::level::from_str(level);
  if (l == spdlog::level::off && level != "off") {
    throw ConfigError("unknown log level '" + level + "' (use debug, info, warn, error, off)");
  }
  spdlog::set_level(l);
}

}  // namespace autoglm::log
