// Data-parallel step time, per compressor and reducer mode, measured side by
// side in one MPI job:
//
//   mpirun -np 2 dp_step_bench --config configs/r8_gat.yaml
//       --compressors none,fp16,onebit,topk --modes overlap,after_backward,off
//
// For each (compressor, mode) every rank builds a fresh ClassifierTrainer on the same data
// and runs warm-up then timed steps of its own share of the global batches; the
// configurations are visited round-robin --rounds times so that noise on a shared
// machine hits all alike. Rank 0 prints one JSON line per configuration:
// median step time over rounds, the reducer's busy and exposed seconds per
// step, bytes this rank handed to the communicator per step (measured from the
// compressor's tensors and, with --embedding-updates sparse or lazy, the
// reduced table rows), and, with --wire-iface, bytes that crossed that
// network interface per rank per step (from /sys/class/net/IFACE/statistics).
// benchmarks/dp_report.py turns the lines into tables, CSV and plots.

#include <ATen/Parallel.h>
#include <mpi.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "comm/factory.h"
#include "comm/mpi/environment.h"
#include "core/error.h"
#include "core/host_runtime.h"
#include "core/log.h"
#include "trainer/config/experiment_config.h"
#include "core/graph/prepared_data.h"
#include "trainer/tasks/graph_classification/classifier_trainer.h"
#include "benchmarks/batch_cycle.h"
#include "comm/chunked_bytes.h"
#include "launch/process.h"
#include "launch/supervisor.h"
#include "launch/supervisor_client.h"

#include <csignal>
#include <thread>
#include <tuple>

namespace {

std::vector<std::string> splitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

int64_t wireBytes(const std::string& iface) {
  if (iface.empty()) return 0;
  const std::string path = "/sys/class/net/" + iface + "/statistics/tx_bytes";
  std::ifstream in(path);
  int64_t v = 0;
  if (!(in >> v)) throw autoglm::Error("dp_step_bench: cannot read " + path);
  return v;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 == 1 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

struct Result {
  std::vector<double> step_seconds;  // per round: mean step time
  double busy = 0, exposed = 0, bytes = 0, row_bytes = 0, wire = 0, selected = 0, compressed = 0;
  int64_t steps = 0;
  int64_t graphs = 0;
};

}  // namespace

// The world watched as under autoglm-launch: rank 0 runs a supervisor (with a
// `sleep` standing in for mpirun), every rank a client, and `comm` is a world
// communicator that reports to it. Ends the supervisor on destruction.
struct SupervisedWorld {
  std::unique_ptr<autoglm::launch::Supervisor> supervisor;
  std::unique_ptr<autoglm::launch::ChildProcess> child;
  std::thread thread;
  std::shared_ptr<autoglm::launch::SupervisorClient> client;
  std::shared_ptr<autoglm::comm::Communicator> comm;

  SupervisedWorld(autoglm::comm::Communicator& world, const autoglm::comm::CommConfig& cfg) {
    at::Tensor port = at::zeros({1}, at::TensorOptions().dtype(at::kInt));
    if (world.rank() == 0) {
      autoglm::launch::SupervisorOptions o;
      o.floor_s = 600;  // a measurement, not a watch: nothing may end it
      supervisor = std::make_unique<autoglm::launch::Supervisor>(world.size(), o, "127.0.0.1");
      child = std::make_unique<autoglm::launch::ChildProcess>(std::vector<std::string>{"sleep", "86400"});
      thread = std::thread([this] { supervisor->supervise(*child); });
      port[0] = static_cast<int>(supervisor->port());
    }
    world.broadcast(port, {0})->wait();
    const std::string secret =
        autoglm::comm::broadcastBytes(world, world.rank() == 0 ? supervisor->secret() : std::string(), 0);
    client = std::make_shared<autoglm::launch::SupervisorClient>("127.0.0.1:" + std::to_string(port[0].item<int>()),
                                                                 secret, world.rank(), world.size(), 0);
    comm = autoglm::comm::makeCommunicator(cfg, client);
    world.barrier({})->wait();
  }
  ~SupervisedWorld() {
    comm.reset();
    client.reset();
    if (child) child->signalGroup(SIGTERM);
    if (thread.joinable()) thread.join();
  }
};

// A mode from its YAML name; ConfigError naming the option otherwise.
template <typename E>
E parseChoice(const std::string& name, const char* option) {
  const auto v = autoglm::core::parseEnum<E>(name);
  if (!v) throw autoglm::ConfigError(std::string(option) + " " + name + ": use " + autoglm::core::enumChoices<E>());
  return *v;
}

int main(int argc, char** argv) {
  namespace tr = autoglm::trainer;
  namespace comm = autoglm::comm;
  autoglm::core::configureHostRuntime();
  CLI::App app{"Data-parallel step time per compressor and reducer mode"};
  std::string config = "configs/r8_gat.yaml";
  std::vector<std::string> overrides;
  std::string compressors = "none,fp16,onebit,topk";
  std::string modes = "overlap,after_backward,off";
  std::string wire_iface;
  int threads = 1, warmup = 3, steps = 20, rounds = 3;
  app.add_option("--config", config);
  app.add_option("--set", overrides, "Config override key=value (repeatable)");
  app.add_option("--compressors", compressors, "Comma-separated parallel.compression.type values");
  app.add_option("--modes", modes, "Comma-separated parallel.reducer_mode values");
  std::string updates;
  app.add_option("--embedding-updates", updates,
                 "Comma-separated train.embedding_update values (dense, sparse, lazy); default: the config's");
  app.add_option("--threads", threads, "Intra-op threads per rank");
  app.add_option("--warmup-steps", warmup);
  app.add_option("--steps", steps, "Timed steps per configuration and round");
  app.add_option("--rounds", rounds, "Round-robin passes over all configurations");
  app.add_option("--wire-iface", wire_iface, "Count bytes sent on this interface (e.g. lo in a network namespace)");
  int wire_ranks = 0;
  app.add_option("--wire-ranks", wire_ranks, "Ranks whose sends cross --wire-iface (default: all)");
  bool supervised = false;
  app.add_flag("--supervised", supervised,
               "Also run every configuration watched by the autoglm-launch supervisor (heartbeats, mismatch check)");
  CLI11_PARSE(app, argc, argv);

  comm::mpi::Environment env(&argc, &argv);
  autoglm::core::log::init();
  autoglm::core::log::setRank(env.worldRank(), env.worldSize());
  try {
    autoglm::core::log::setLevel("warn");
    at::set_num_threads(threads);
    overrides.push_back("run.out_dir=/tmp/autoglm-dp-bench-" + std::to_string(env.worldRank()));
    overrides.push_back("train.progress=off");
    tr::ExperimentConfig base = tr::ExperimentConfig::load(config, overrides);
    auto world = comm::makeCommunicator(base.comm);
    if (world->size() < 2) {
      throw autoglm::ConfigError("dp_step_bench measures the gradient reducer, which a group of one does not have: "
                                 "start it under mpirun -np 2 or more");
    }
    comm::BarrierOptions long_wait;
    long_wait.timeout = std::chrono::hours(2);
    if (world->rank() != 0) world->barrier(long_wait)->wait();
    autoglm::core::graph::PreparedData data = tr::prepareData(base);
    if (world->rank() == 0) world->barrier(long_wait)->wait();

    // With --supervised: a supervisor on rank 0 (a `sleep` stands in for
    // mpirun), a client per rank, and a second world communicator it watches.
    std::unique_ptr<SupervisedWorld> watched;
    if (supervised) watched = std::make_unique<SupervisedWorld>(*world, base.comm);
    using Key = std::tuple<std::string, std::string, bool, std::string>;
    std::vector<Key> configs;
    if (updates.empty()) updates = autoglm::core::enumName(base.train.embedding_update);
    for (const auto& u : splitList(updates)) {
      for (const auto& c : splitList(compressors)) {
        for (const auto& m : splitList(modes)) {
          configs.emplace_back(c, m, false, u);
          if (supervised) configs.emplace_back(c, m, true, u);
        }
      }
    }
    std::map<Key, Result> results;
    int64_t params = 0;
    for (int round = 0; round < rounds; ++round) {
      for (const auto& key : configs) {
        tr::ExperimentConfig cfg = base;
        cfg.parallel.compression.type = parseChoice<autoglm::parallel::data_parallel::compression::CompressionType>(
            std::get<0>(key), "--compressors");
        cfg.parallel.reducer_mode =
            parseChoice<autoglm::parallel::data_parallel::ReducerMode>(std::get<1>(key), "--modes");
        cfg.train.embedding_update = parseChoice<tr::EmbeddingUpdate>(std::get<3>(key), "--embedding-updates");
        const bool watch = std::get<2>(key);
        tr::ClassifierTrainer trainer(cfg, data, watch ? watched->comm : world);
        if (watch) trainer.setObserver(watched->client.get());
        params = 0;
        for (const auto& p : trainer.model()->parameters()) params += p.numel();
        autoglm::bench::BatchCycle cycle(trainer);
        auto step = [&] { return cycle.step(); };
        for (int i = 0; i < warmup; ++i) step();
        world->barrier({})->wait();
        const auto rs0 = trainer.steps().reducer()->stats();
        const auto cs0 = trainer.steps().reducer()->compressor().stats();
        const int64_t rows0 = trainer.steps().reducer()->rowSparseStats().bytes_sent;
        const int64_t wire0 = world->rank() == 0 ? wireBytes(wire_iface) : 0;
        const auto t0 = std::chrono::steady_clock::now();
        int64_t graphs = 0;
        for (int i = 0; i < steps; ++i) graphs += step();
        world->barrier({})->wait();
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const int64_t wire1 = world->rank() == 0 ? wireBytes(wire_iface) : 0;
        const auto rs1 = trainer.steps().reducer()->stats();
        const auto cs1 = trainer.steps().reducer()->compressor().stats();
        const int64_t rows1 = trainer.steps().reducer()->rowSparseStats().bytes_sent;
        Result& r = results[key];
        r.step_seconds.push_back(secs / steps);
        r.busy += rs1.busy_seconds - rs0.busy_seconds;
        r.exposed += rs1.exposed_seconds - rs0.exposed_seconds;
        r.bytes += static_cast<double>(cs1.bytes_sent - cs0.bytes_sent + rows1 - rows0);
        r.row_bytes += static_cast<double>(rows1 - rows0);
        r.wire += static_cast<double>(wire1 - wire0) / (wire_ranks > 0 ? wire_ranks : world->size());
        r.selected += static_cast<double>(cs1.selected_elements - cs0.selected_elements);
        r.compressed += static_cast<double>(cs1.compressed_elements - cs0.compressed_elements);
        r.steps += steps;
        r.graphs += graphs;
      }
    }
    if (world->rank() == 0) {
      for (const auto& key : configs) {
        const Result& r = results[key];
        const double n = static_cast<double>(r.steps);
        nlohmann::json line{{"ranks", world->size()},
                            {"compressor", std::get<0>(key)},
                            {"mode", std::get<1>(key)},
                            {"supervised", std::get<2>(key)},
                            {"embedding_update", std::get<3>(key)},
                            {"parameters", params},
                            {"step_ms", 1e3 * median(r.step_seconds)},
                            {"step_ms_rounds", r.step_seconds},
                            {"graphs_per_s", static_cast<double>(r.graphs) / (n * median(r.step_seconds))},
                            {"busy_ms", 1e3 * r.busy / n},
                            {"exposed_ms", 1e3 * r.exposed / n},
                            {"bytes_per_step", r.bytes / n},
                            {"row_bytes_per_step", r.row_bytes / n},
                            {"achieved_ratio", r.compressed > 0 ? r.selected / r.compressed : 0.0}};
        if (!wire_iface.empty()) line["wire_bytes_per_step"] = r.wire / n;
        std::cout << line.dump() << std::endl;
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "dp_step_bench (rank " << env.worldRank() << "): " << e.what() << std::endl;
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  return 0;
}
