// Training throughput of the C++ trainer: graphs per second over timed steps,
// after warm-up, on the config's training split in the trainer's batch order.
// Prints one JSON line (same shape as benchmarks/reference/gat_reference.py):
//   train_throughput --config configs/r8_gat.yaml --threads 2 --warmup-steps 5 --steps 50

#include <ATen/Parallel.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/csrc/autograd/profiler_legacy.h>

#include <chrono>
#include <iostream>

#include "core/error.h"
#include "core/host_runtime.h"
#include "core/log.h"
#include "parallel/data_parallel/distributed_sampler.h"
#include "trainer/config/experiment_config.h"
#include "core/graph/prepared_data.h"
#include "trainer/tasks/graph_classification/classifier_trainer.h"

int main(int argc, char** argv) {
  namespace tr = autoglm::trainer;
  CLI::App app{"Training throughput benchmark"};
  std::string config = "configs/r8_gat.yaml";
  std::vector<std::string> overrides;
  int threads = 2, warmup = 5, steps = 50;
  app.add_option("--config", config);
  app.add_option("--set", overrides);
  app.add_option("--threads", threads);
  app.add_option("--warmup-steps", warmup);
  app.add_option("--steps", steps);
  std::string trace;
  app.add_option("--trace", trace, "Write a chrome://tracing profile of the timed steps to this file");
  bool plain_malloc = false;
  app.add_flag("--plain-malloc", plain_malloc, "Keep glibc's default allocation thresholds");
  CLI11_PARSE(app, argc, argv);
  if (!plain_malloc) autoglm::core::configureHostRuntime();
  autoglm::core::log::init();
  try {
    overrides.push_back("run.out_dir=/tmp/autoglm-throughput");
    tr::ExperimentConfig cfg = tr::ExperimentConfig::load(config, overrides);
    autoglm::core::log::setLevel("warn");
    at::set_num_threads(threads);
    autoglm::core::graph::PreparedData data = tr::prepareData(cfg);
    tr::ClassifierTrainer trainer(cfg, data);
    autoglm::parallel::data_parallel::SamplerOptions so;
    so.seed = static_cast<uint64_t>(cfg.run.seed);
    autoglm::parallel::data_parallel::DistributedSampler sampler(trainer.trainIndices(), so);
    autoglm::core::graph::BatchLimits limits{cfg.train.batch_graphs, cfg.train.batch_nodes};
    auto batches = sampler.epochBatches(0, limits, [&](int64_t i) { return data.store.numNodes(i); });
    size_t next = 0;
    auto nextBatch = [&]() -> const std::vector<int64_t>& {
      const auto& b = batches[next % batches.size()];
      ++next;
      return b;
    };
    auto step = [&](const std::vector<int64_t>& b) { trainer.trainStep({b}, static_cast<int64_t>(b.size())); };
    for (int i = 0; i < warmup; ++i) step(nextBatch());
    const auto before = trainer.steps().phaseTimes();
    int64_t graphs = 0;
    const auto t0 = std::chrono::steady_clock::now();
    {
      std::unique_ptr<torch::autograd::profiler::RecordProfile> profile;
      if (!trace.empty()) profile = std::make_unique<torch::autograd::profiler::RecordProfile>(trace);
      for (int i = 0; i < steps; ++i) {
        const auto& b = nextBatch();
        step(b);
        graphs += static_cast<int64_t>(b.size());
      }
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto after = trainer.steps().phaseTimes();
    nlohmann::json out{{"impl", "autoglm"},
                       {"graphs_per_s", static_cast<double>(graphs) / secs},
                       {"steps", steps},
                       {"graphs", graphs},
                       {"seconds", secs},
                       {"threads", threads},
                       {"phase_seconds",
                        {{"collate", after.collate - before.collate},
                         {"forward", after.forward - before.forward},
                         {"backward", after.backward - before.backward},
                         {"optimizer", after.optimizer - before.optimizer}}}};
    std::cout << out.dump() << std::endl;
  } catch (const autoglm::Error& e) {
    std::cerr << "train_throughput: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
