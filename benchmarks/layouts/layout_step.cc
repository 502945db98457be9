// One layout dp x tp x pp, measured in one MPI job (benchmarks/layouts/run.sh
// starts one job per layout and round, so that peak RSS is the layout's own):
//
//   mpirun -np 4 layout_step_bench --config configs/r8_gat.yaml --layout 2,2,1 --steps 10 [--set k=v ...]
//
// Every rank builds the ClassifierTrainer of its place in the grid and runs warm-up then
// timed steps of its share of the global batches. Rank 0 prints one JSON line:
// the step time and graphs/s, per rank the bytes of parameters, gradients and
// Adam moments it holds and its peak RSS, the bytes each rank handed to the
// communicator per step by group (dp, tp, pp; counted by an observer of every
// collective and point-to-point transfer), and on pipeline layouts each
// stage's idle fraction (1 - computing time / step time, from the stage's own
// clocks) beside the schedule-independent bound (p-1)/(m+p-1).

#include <ATen/Parallel.h>
#include <mpi.h>
#include <sys/resource.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>

#include "benchmarks/layouts/layout_overrides.h"
#include "comm/factory.h"
#include "comm/mpi/environment.h"
#include "comm/observer.h"
#include "core/host_runtime.h"
#include "core/log.h"
#include "parallel/process_grid.h"
#include "trainer/tasks/graph_classification/classifier_trainer.h"
#include "benchmarks/batch_cycle.h"

namespace {
namespace tr = autoglm::trainer;
namespace comm = autoglm::comm;

// Bytes handed to the communicator, by group name (point-to-point: sent bytes).
class ByteCounter : public comm::CollectiveObserver {
 public:
  void onGroup(uint64_t group, const std::string&, const std::vector<int>& world_ranks) override {
    std::lock_guard<std::mutex> lock(mu_);
    size_[group] = world_ranks.size();
  }
  void onIssue(uint64_t group, const comm::WorkInfo& op) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (size_[group] > 1) bytes_[op.group] += op.bytes;  // a group of one moves nothing
  }
  void onComplete(uint64_t, const comm::WorkInfo&, bool) override {}
  int64_t bytes(const std::string& group) {
    std::lock_guard<std::mutex> lock(mu_);
    return bytes_[group];
  }

 private:
  std::mutex mu_;
  std::map<uint64_t, size_t> size_;
  std::map<std::string, int64_t> bytes_;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// Parameters, gradients and optimizer state this rank holds, in bytes.
int64_t stateBytes(tr::ClassifierTrainer& t) {
  int64_t b = 0;
  for (const auto& p : t.model()->parameters()) {
    b += p.nbytes();
    if (p.grad().defined()) b += p.grad().nbytes();
  }
  for (const auto& [key, state] : t.steps().optimizer().state()) {
    (void)key;
    if (const auto* s = dynamic_cast<const torch::optim::AdamWParamState*>(state.get())) {
      b += s->exp_avg().nbytes() + s->exp_avg_sq().nbytes();
    } else if (const auto* a = dynamic_cast<const torch::optim::AdamParamState*>(state.get())) {
      b += a->exp_avg().nbytes() + a->exp_avg_sq().nbytes();
    }
  }
  return b;
}

std::vector<double> gather(comm::Communicator& world, const std::vector<double>& mine) {
  // Sent as their int64 bit patterns (the communicator moves no doubles).
  at::Tensor t = at::tensor(mine, at::TensorOptions().dtype(at::kDouble)).view(at::kLong);
  auto w = world.allgather(t, {});
  w->wait();
  const at::Tensor all = w->result()[0].contiguous().view(at::kDouble);
  return {all.data_ptr<double>(), all.data_ptr<double>() + all.numel()};
}

}  // namespace

int main(int argc, char** argv) {
  autoglm::core::configureHostRuntime();
  CLI::App app{"Step time, memory and traffic of one dp x tp x pp layout"};
  std::string config = "configs/r8_gat.yaml", layout = "1,1,1", schedule;
  std::vector<std::string> overrides;
  int warmup = 2, steps = 10;
  app.add_option("--config", config);
  app.add_option("--layout", layout, "dp,tp,pp");
  app.add_option("--schedule", schedule, "parallel.pipeline.schedule");
  app.add_option("--set", overrides, "Config override key=value (repeatable)");
  app.add_option("--warmup-steps", warmup);
  app.add_option("--steps", steps);
  CLI11_PARSE(app, argc, argv);

  comm::mpi::Environment env(&argc, &argv);
  autoglm::core::log::init();
  autoglm::core::log::setRank(env.worldRank(), env.worldSize());
  try {
    autoglm::core::log::setLevel("warn");
    at::set_num_threads(1);
    overrides.push_back("run.out_dir=/tmp/autoglm-layout-bench");
    overrides.push_back("train.progress=off");
    for (const std::string& s : autoglm::benchmarks::layoutOverrides(layout)) overrides.push_back(s);
    if (!schedule.empty()) overrides.push_back("parallel.pipeline.schedule=" + schedule);
    const tr::ExperimentConfig cfg = tr::ExperimentConfig::load(config, overrides);
    const int64_t dp = cfg.parallel.dp, tp = cfg.parallel.tp, pp = cfg.parallel.pp;
    auto counter = std::make_shared<ByteCounter>();
    auto world = comm::makeCommunicator(cfg.comm, counter);
    comm::BarrierOptions long_wait;
    long_wait.timeout = std::chrono::hours(2);
    if (world->rank() != 0) world->barrier(long_wait)->wait();  // rank 0 prepares the cache first
    const autoglm::core::graph::PreparedData data = tr::prepareData(cfg);
    if (world->rank() == 0) world->barrier(long_wait)->wait();

    autoglm::parallel::ParallelGrid grid(world, cfg.parallel);
    tr::ClassifierTrainer trainer(cfg, data, grid);
    autoglm::bench::BatchCycle cycle(trainer);
    auto step = [&] { return cycle.step(); };
    for (int i = 0; i < warmup; ++i) step();
    world->barrier({})->wait();
    const int64_t b0[3] = {counter->bytes("dp"), counter->bytes("tp"), counter->bytes("pp")};
    std::vector<double> step_s, idle;
    int64_t graphs = 0;
    for (int i = 0; i < steps; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      graphs += step();
      step_s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      const double s = trainer.steps().stageStepSeconds();
      if (s > 0) idle.push_back(1.0 - trainer.steps().stageBusySeconds() / s);
    }
    world->barrier({})->wait();
    const double n = steps;
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    const std::vector<double> mine = {median(step_s),
                                      static_cast<double>(stateBytes(trainer)),
                                      static_cast<double>(ru.ru_maxrss) * 1024.0,
                                      static_cast<double>(counter->bytes("dp") - b0[0]) / n,
                                      static_cast<double>(counter->bytes("tp") - b0[1]) / n,
                                      static_cast<double>(counter->bytes("pp") - b0[2]) / n,
                                      idle.empty() ? 0.0 : median(idle),
                                      static_cast<double>(grid.coord().pp)};
    const std::vector<double> all = gather(*world, mine);
    if (world->rank() == 0) {
      const size_t k = mine.size();
      auto column = [&](size_t j) {
        std::vector<double> v;
        for (size_t r = 0; r * k < all.size(); ++r) v.push_back(all[r * k + j]);
        return v;
      };
      auto maxOf = [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); };
      auto meanOf = [](const std::vector<double>& v) {
        double s = 0;
        for (double x : v) s += x;
        return s / static_cast<double>(v.size());
      };
      const double step_time = maxOf(column(0));
      int64_t params = 0;
      for (const auto& p : trainer.model()->parameters()) params += p.numel();
      nlohmann::json line{{"ranks", world->size()}, {"dp", dp}, {"tp", tp}, {"pp", pp},
                          {"schedule", pp > 1 ? autoglm::core::enumName(cfg.parallel.pipeline.schedule) : "-"},
                          {"micro_batches", pp > 1 ? cfg.parallel.pipeline.micro_batches : 1},
                          {"step_ms", 1e3 * step_time},
                          {"graphs_per_s", static_cast<double>(graphs) / (n * step_time)},
                          {"state_bytes_max", maxOf(column(1))}, {"state_bytes_mean", meanOf(column(1))},
                          {"state_bytes_per_rank", column(1)},
                          {"peak_rss_max", maxOf(column(2))}, {"peak_rss_mean", meanOf(column(2))},
                          {"dp_bytes_per_step", meanOf(column(3))}, {"tp_bytes_per_step", meanOf(column(4))},
                          {"pp_bytes_per_step", meanOf(column(5))}, {"rank0_parameters", params}};
      if (pp > 1) {
        std::vector<double> by_stage(static_cast<size_t>(pp), 0.0), count(static_cast<size_t>(pp), 0.0);
        const auto idle_col = column(6), stage_col = column(7);
        for (size_t r = 0; r < idle_col.size(); ++r) {
          by_stage[static_cast<size_t>(stage_col[r])] += idle_col[r];
          count[static_cast<size_t>(stage_col[r])] += 1;
        }
        for (size_t s = 0; s < by_stage.size(); ++s) by_stage[s] /= count[s];
        const double m = cfg.parallel.pipeline.micro_batches;
        line["idle_by_stage"] = by_stage;
        line["idle_mean"] = meanOf(by_stage);
        line["bubble_bound"] = (pp - 1) / (m + pp - 1);
      }
      std::cout << line.dump() << std::endl;
    }
  } catch (const std::exception& e) {
    std::cerr << "layout_step_bench (rank " << env.worldRank() << "): " << e.what() << std::endl;
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  return 0;
}
