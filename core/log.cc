#include "core/log.h"

#include <c10/util/Exception.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "core/error.h"

namespace autoglm::core::log {
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

// Routes LibTorch warnings through our logger; API-stability notices
// ("... is in beta") are demoted to debug so they do not alarm users.
class TorchWarnings : public c10::WarningHandler {
 public:
  void process(const c10::SourceLocation& loc, const std::string& msg, const bool) override {
    if (msg.find("is in beta") != std::string::npos) {
      spdlog::debug("libtorch: {} ({}:{})", msg, loc.file, loc.line);
    } else {
      spdlog::warn("libtorch: {} ({}:{})", msg, loc.file, loc.line);
    }
  }
};

}  // namespace

void init() {
  static bool done = false;
  if (done) return;
  done = true;
  configure(0, 1);
  static TorchWarnings handler;
  c10::Warning::set_warning_handler(&handler);
}

void setRank(int rank, int world) {
  init();
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

}  // namespace autoglm::core::log
