// NCCL on GPUs, for a lent GPU machine (scripts/gpu-check.sh runs it):
//  1. all-reduce of float32, 4 B .. 1 GiB: our NcclCommunicator (Work, events,
//     in-flight bookkeeping) against bare ncclAllReduce on a second NCCL
//     communicator of the same ranks, trials alternating;
//  2. a data-parallel step: all-reduce of the gradient buckets of a config's
//     model (parallel.bucket_mb), all started then all waited for, as the
//     reducer does, on NCCL (device buffers) and on MPI (host buffers).
//
//   mpirun -np <GPUs> nccl_bench [--csv out.csv] [--max-bytes N] [--trials N]
//          [--config configs/r8_gat.yaml --vocab 7421 --classes 8] [--steps N]
//
// Bus bandwidth = 2(n-1)/n * bytes / time (nccl-tests convention); on one GPU
// it is 0 and the algorithm bandwidth (bytes / time) is the figure to read.

#include <ATen/Functions.h>
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "comm/factory.h"
#include "comm/mpi/communicator.h"
#include "comm/mpi/environment.h"
#include "comm/nccl/bootstrap.h"
#include "comm/nccl/communicator.h"
#include "comm/nccl/device_api.h"
#include "core/log.h"
#include "core/model/graph_classifier.h"
#include "parallel/data_parallel/bucket_assignment.h"
#include "trainer/config/experiment_config.h"

namespace {

namespace nccl = autoglm::comm::nccl;
using Clock = std::chrono::steady_clock;

double maxOverRanks(double v) {
  double out = v;
  MPI_Allreduce(&v, &out, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return out;
}

double secondsOf(const std::function<void()>& fn, int iters) {
  MPI_Barrier(MPI_COMM_WORLD);
  const auto t0 = Clock::now();
  for (int i = 0; i < iters; ++i) fn();
  return maxOverRanks(std::chrono::duration<double>(Clock::now() - t0).count() / iters);
}

// Bare NCCL on its own communicator and stream, waited for through an event.
struct RawNccl {
  std::shared_ptr<nccl::DeviceApi> api = nccl::makeCudaDeviceApi();
  nccl::CommHandle comm = nullptr;
  nccl::StreamHandle stream = nullptr;
  nccl::EventHandle done = nullptr;

  RawNccl(autoglm::comm::mpi::MpiCommunicator& world, int device) {
    api->setDevice(device);
    const ncclUniqueId id = nccl::bootstrapUniqueId(world, [this] { return api->uniqueId(); });
    comm = api->commInitRank(world.size(), id, world.rank());
    stream = api->createStream();
    done = api->createEvent();
  }
  ~RawNccl() {
    api->destroyEvent(done);
    api->destroyStream(stream);
    api->commDestroy(comm);
  }
  void allreduce(const at::Tensor& t) {
    api->allReduce(t.data_ptr(), t.data_ptr(), static_cast<size_t>(t.numel()), ncclFloat32, ncclSum, comm, stream);
    api->recordEvent(done, stream);
    while (api->queryEvent(done, nullptr) == nccl::EventState::kPending) {
    }
  }
};

void allreduceTable(nccl::NcclCommunicator& ours, RawNccl& raw, int64_t max_bytes, int trials,
                    const std::string& csv) {
  const int n = ours.size();
  std::ofstream out;
  if (ours.rank() == 0) {
    if (!csv.empty()) {
      out.open(csv);
      out << "ranks,bytes,raw_us,ours_us,raw_algbw_gbs,ours_algbw_gbs,raw_busbw_gbs,ours_busbw_gbs,ratio\n";
    }
    std::printf("NCCL all-reduce float32, %d rank(s), best of %d alternating trials\n", n, trials);
    std::printf("%12s %10s %10s %11s %11s %11s %11s %7s\n", "bytes", "raw_us", "ours_us", "raw_alg", "ours_alg",
                "raw_bus", "ours_bus", "ratio");
  }
  for (int64_t bytes = 4; bytes <= max_bytes; bytes *= 4) {
    at::Tensor buf = raw.api->empty({bytes / 4}, at::kFloat, ours.device());
    const int iters = static_cast<int>(std::clamp<int64_t>((int64_t{256} << 20) / bytes, 5, 1000));
    double best_raw = 1e30, best_ours = 1e30;
    for (int t = 0; t < trials; ++t) {
      auto run_raw = [&] { best_raw = std::min(best_raw, secondsOf([&] { raw.allreduce(buf); }, iters)); };
      auto run_ours = [&] {
        best_ours = std::min(best_ours, secondsOf([&] { ours.allreduce(buf, {})->wait(); }, iters));
      };
      if (t % 2 == 0) {
        run_raw();
        run_ours();
      } else {
        run_ours();
        run_raw();
      }
    }
    const double gb = static_cast<double>(bytes) / 1e9, bus = n > 1 ? 2.0 * (n - 1) / n : 0.0;
    if (ours.rank() == 0) {
      std::printf("%12lld %10.2f %10.2f %11.3f %11.3f %11.3f %11.3f %7.2f\n", static_cast<long long>(bytes),
                  1e6 * best_raw, 1e6 * best_ours, gb / best_raw, gb / best_ours, bus * gb / best_raw,
                  bus * gb / best_ours, best_ours / best_raw);
      if (out) {
        out << n << "," << bytes << "," << 1e6 * best_raw << "," << 1e6 * best_ours << "," << gb / best_raw << ","
            << gb / best_ours << "," << bus * gb / best_raw << "," << bus * gb / best_ours << ","
            << best_ours / best_raw << "\n";
      }
    }
  }
}

// The gradient buckets of the config's model, as the reducer would form them.
std::vector<int64_t> bucketSizes(const autoglm::trainer::ExperimentConfig& cfg, int64_t vocab, int64_t classes) {
  autoglm::core::model::GraphClassifier model(cfg.model, vocab, classes);
  std::vector<int64_t> numels;
  for (const auto& p : model->parameters()) numels.push_back(p.numel());
  std::vector<int64_t> sizes;
  const auto bytes = static_cast<int64_t>(cfg.parallel.bucket_mb * 1024.0 * 1024.0);
  for (const auto& b : autoglm::parallel::data_parallel::assignBuckets(numels, bytes)) {
    int64_t n = 0;
    for (int64_t i : b) n += numels[static_cast<size_t>(i)];
    sizes.push_back(n);
  }
  return sizes;
}

void dpStep(nccl::NcclCommunicator& ours, autoglm::comm::Communicator& host, const std::vector<int64_t>& sizes,
            int steps, const std::string& config) {
  auto api = nccl::makeCudaDeviceApi();
  std::vector<at::Tensor> dev, cpu;
  int64_t total = 0;
  for (int64_t n : sizes) {
    dev.push_back(api->empty({n}, at::kFloat, ours.device()));
    cpu.push_back(at::zeros({n}));
    total += n;
  }
  auto step = [](autoglm::comm::Communicator& c, std::vector<at::Tensor>& bufs) {
    std::vector<std::shared_ptr<autoglm::comm::Work>> works;
    for (auto& b : bufs) works.push_back(c.allreduce(b, {autoglm::comm::ReduceOp::kAvg}));
    for (auto& w : works) w->wait();
  };
  step(ours, dev);
  step(host, cpu);
  const double nccl_s = secondsOf([&] { step(ours, dev); }, steps);
  const double mpi_s = secondsOf([&] { step(host, cpu); }, steps);
  if (ours.rank() == 0) {
    std::printf("\ndata-parallel step of %s: %zu bucket(s), %lld floats (%.1f MiB), %d rank(s), mean of %d steps\n",
                config.c_str(), sizes.size(), static_cast<long long>(total), 4.0 * total / (1 << 20), ours.size(),
                steps);
    std::printf("  nccl (device buffers): %.3f ms/step\n  mpi (host buffers):    %.3f ms/step\n", 1e3 * nccl_s,
                1e3 * mpi_s);
  }
}

}  // namespace

int main(int argc, char** argv) {
  autoglm::comm::mpi::Environment env(&argc, &argv);
  autoglm::core::log::init();
  std::string csv, config = "configs/r8_gat.yaml";
  int64_t max_bytes = int64_t{1} << 30, vocab = 7421, classes = 8;
  int trials = 5, steps = 20;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return std::string(i + 1 < argc ? argv[++i] : ""); };
    if (a == "--csv") csv = next();
    else if (a == "--max-bytes") max_bytes = std::stoll(next());
    else if (a == "--trials") trials = std::stoi(next());
    else if (a == "--config") config = next();
    else if (a == "--vocab") vocab = std::stoll(next());
    else if (a == "--classes") classes = std::stoll(next());
    else if (a == "--steps") steps = std::stoi(next());
    else {
      if (env.worldRank() == 0) std::fprintf(stderr, "nccl_bench: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  try {
    autoglm::comm::CommConfig cfg;
    cfg.backend = autoglm::comm::Backend::kNccl;
    auto ours = std::dynamic_pointer_cast<nccl::NcclCommunicator>(autoglm::comm::makeCommunicator(cfg));
    auto host = std::make_shared<autoglm::comm::mpi::MpiCommunicator>(MPI_COMM_WORLD, autoglm::comm::CommConfig{});
    {
      RawNccl raw(*host, ours->device());
      allreduceTable(*ours, raw, max_bytes, trials, csv);
    }
    const auto exp = autoglm::trainer::ExperimentConfig::load(config);
    dpStep(*ours, *host, bucketSizes(exp, vocab, classes), steps, config);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nccl_bench (rank %d): %s\n", env.worldRank(), e.what());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  return 0;
}
