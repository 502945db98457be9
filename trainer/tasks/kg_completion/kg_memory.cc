#include "trainer/tasks/kg_completion/kg_memory.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <fstream>
#include <optional>

#include "comm/chunked_bytes.h"
#include "core/error.h"
#include "core/host_runtime.h"
#include "core/log.h"
#include "core/memory_limit.h"
#include "trainer/tasks/kg_completion/kg_model.h"

namespace autoglm::trainer {

namespace {

struct RankLimit {
  std::optional<int64_t> bytes;
  std::string source;
};

// Every rank's (host, cgroup), to count the ranks that share this one's cgroup.
int sharingRanks(comm::Communicator& world, const std::string& mine) {
  if (world.size() == 1) return 1;
  const std::vector<std::string> all = comm::gatherBytes(world, mine, 0);
  nlohmann::json counts = nlohmann::json::array();
  if (world.rank() == 0) {
    for (const auto& a : all) counts.push_back(std::count(all.begin(), all.end(), a));
  }
  const auto got = nlohmann::json::parse(comm::broadcastBytes(world, world.rank() == 0 ? counts.dump() : "", 0));
  return got.at(static_cast<size_t>(world.rank())).get<int>();
}

RankLimit rankLimit(const ExperimentConfig& cfg, comm::Communicator& world) {
  const std::string cgroup = core::cgroupPath();
  const int sharing = sharingRanks(world, core::hostName() + "\t" + cgroup);
  if (!cfg.run.memory_limit.empty()) return {core::parseBytes(cfg.run.memory_limit, "run.memory_limit"), "run.memory_limit"};
  const std::optional<int64_t> limit = core::cgroupMemoryLimit();
  if (!limit) return {};
  return {*limit / sharing, fmt::format("cgroup {} limit {} shared by {} rank(s) on {}", cgroup.empty() ? "?" : cgroup,
                                        core::formatBytes(*limit), sharing, core::hostName())};
}

std::string needText(const KgMemoryNeed& n, int64_t resident) {
  return fmt::format("parameters {}, gradients {}, optimizer state {}, scores {}, filter {}, epoch plan {}, "
                     "checkpoint chunk {}, process so far {}", core::formatBytes(n.parameters),
                     core::formatBytes(n.gradients), core::formatBytes(n.optimizer), core::formatBytes(n.scoring),
                     core::formatBytes(n.filter), core::formatBytes(n.plan), core::formatBytes(n.checkpoint),
                     core::formatBytes(resident));
}

}  // namespace

int64_t residentBytes() {
  std::ifstream in("/proc/self/statm");
  int64_t pages = 0, resident = 0;
  if (!(in >> pages >> resident)) return 0;
  return resident * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
}

void checkKgMemory(const ExperimentConfig& cfg, const core::kg::KgDataset& data, const parallel::ParallelGrid& grid) {
  const int tp = grid.tp().size(), dp = grid.dp().size();
  const bool adam = cfg.train.optimizer != OptimizerKind::kAdagrad;
  const int64_t triples = static_cast<int64_t>(data.train().size() + data.valid().size() + data.test().size());
  const int64_t train = static_cast<int64_t>(data.train().size()) * (cfg.kg.reciprocal ? 2 : 1);
  const auto needAt = [&](int t) {
    return kgMemoryNeed(cfg.kg, data.numEntities(), data.numRelations(), triples, train, t, dp, adam);
  };
  const KgMemoryNeed need = needAt(tp);
  const int64_t resident = residentBytes();
  const RankLimit limit = rankLimit(cfg, grid.world());
  std::string error;
  if (limit.bytes && need.total() + resident > *limit.bytes) {
    int fits = 0;
    for (int t = tp + 1; t <= 4096 && fits == 0; ++t) {
      if (needAt(t).total() + resident <= *limit.bytes) fits = t;
    }
    error = fmt::format("world rank {} (tp rank {}, dp rank {}) on {}: its share of the layout needs {} ({} entity "
                        "rows x {} of {}; {}) but its limit is {} ({}); {}", grid.worldRank(), grid.tp().rank(),
                        grid.dp().rank(), core::hostName(), core::formatBytes(need.total() + resident),
                        (data.numEntities() + tp - 1) / tp, cfg.kg.dim, data.numEntities(), needText(need, resident),
                        core::formatBytes(*limit.bytes), limit.source,
                        fits > 0 ? fmt::format("parallel.tp={} would fit", fits)
                                 : std::string("no parallel.tp up to 4096 fits: lower kg.dim or kg.batch"));
  }
  // The first failing rank's message, on every rank.
  const std::vector<std::string> all = comm::gatherBytes(grid.world(), error, 0);
  std::string first;
  for (const auto& e : all) {
    if (first.empty()) first = e;
  }
  first = grid.world().size() > 1 ? comm::broadcastBytes(grid.world(), first, 0) : error;
  if (!first.empty()) throw ConfigError(first);
  core::log::info0("memory per rank: needs {} ({}){}", core::formatBytes(need.total() + resident),
                   needText(need, resident),
                   limit.bytes ? fmt::format(", limit {} ({})", core::formatBytes(*limit.bytes), limit.source)
                               : std::string(", no limit set"));
}

}  // namespace autoglm::trainer
