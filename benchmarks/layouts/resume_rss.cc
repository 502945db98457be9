// Peak RSS of resuming against training, at one layout, one MPI job per mode
// (benchmarks/layouts/resume_rss.sh runs them):
//
//   mpirun -np 4 resume_rss_bench --mode train  --layout 1,4,1 --out DIR --steps 4 [--set k=v ...]
//   mpirun -np 4 resume_rss_bench --mode resume --layout 1,4,1 --out DIR [--set k=v ...]
//
// Both build the ClassifierTrainer of their place in the grid exactly alike;
// "train" then runs --steps training steps (no checkpoint), "resume" restores
// DIR's newest checkpoint (written by `autoglm train` with the same settings).
// Rank 0 prints one JSON line with every rank's peak RSS (getrusage) and the
// median over ranks.

#include <ATen/Parallel.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>
#include <sstream>

#include "benchmarks/layouts/layout_overrides.h"
#include "benchmarks/batch_cycle.h"
#include "comm/chunked_bytes.h"
#include "comm/factory.h"
#include "comm/mpi/environment.h"
#include "core/host_runtime.h"
#include "core/log.h"
#include "parallel/process_grid.h"
#include "trainer/tasks/graph_classification/classifier_trainer.h"

namespace tr = autoglm::trainer;
namespace comm = autoglm::comm;

int main(int argc, char** argv) {
  autoglm::core::configureHostRuntime();
  CLI::App app{"Peak RSS of a resume against training steps at one layout"};
  std::string config = "configs/r8_gat.yaml", layout = "1,4,1", mode = "train", out;
  std::vector<std::string> overrides;
  int steps = 4;
  app.add_option("--config", config);
  app.add_option("--layout", layout, "dp,tp,pp");
  app.add_option("--mode", mode, "train or resume")->check(CLI::IsMember({"train", "resume"}));
  app.add_option("--out", out, "run.out_dir (resume: holds the checkpoint)")->required();
  app.add_option("--steps", steps);
  app.add_option("--set", overrides, "Config override key=value (repeatable)");
  CLI11_PARSE(app, argc, argv);
  comm::mpi::Environment env(&argc, &argv);
  autoglm::core::log::init();
  autoglm::core::log::setRank(env.worldRank(), env.worldSize());
  try {
    autoglm::core::log::setLevel("warn");
    at::set_num_threads(1);
    overrides.push_back("run.out_dir=" + out);
    overrides.push_back("train.progress=off");
    for (const std::string& s : autoglm::benchmarks::layoutOverrides(layout)) overrides.push_back(s);
    const tr::ExperimentConfig cfg = tr::ExperimentConfig::load(config, overrides);
    auto world = comm::makeCommunicator(cfg.comm, nullptr);
    const autoglm::core::graph::PreparedData data = tr::prepareData(cfg);  // the cache exists (autoglm train made it)
    autoglm::parallel::ParallelGrid grid(world, cfg.parallel);
    tr::ClassifierTrainer trainer(cfg, data, grid);
    if (mode == "train") {
      autoglm::bench::BatchCycle cycle(trainer);
      for (int i = 0; i < steps; ++i) cycle.step();
    } else {
      trainer.resumeFromNewest();
    }
    world->barrier({})->wait();
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    const double mib = static_cast<double>(ru.ru_maxrss) / 1024.0;
    const std::vector<std::string> all = comm::gatherBytes(*world, std::to_string(mib), 0);
    if (world->rank() == 0) {
      std::vector<double> rss;
      for (const auto& s : all) rss.push_back(std::stod(s));
      std::vector<double> sorted = rss;
      std::sort(sorted.begin(), sorted.end());
      const double median = sorted.size() % 2 ? sorted[sorted.size() / 2]
                                              : (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]) / 2;
      std::cout << nlohmann::json{{"mode", mode}, {"layout", layout}, {"step", trainer.globalStep()},
                                  {"peak_rss_mib", rss}, {"median_peak_rss_mib", median}}.dump()
                << std::endl;
    }
  } catch (const std::exception& e) {
    std::cerr << "resume_rss_bench (rank " << env.worldRank() << "): " << e.what() << std::endl;
    comm::mpi::Environment::abortJob(1);
  }
  return 0;
}
