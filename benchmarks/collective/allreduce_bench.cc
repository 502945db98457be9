// All-reduce latency and bus bandwidth: our MPI communicator against plain
// MPI_Allreduce in the same run, sizes 4 B .. 64 MiB (float32).
//
//   mpirun -n 2 allreduce_bench --csv out.csv [--algorithm chunked|ring]
//          [--threshold BYTES] [--chunk BYTES] [--max-bytes N]
//   mpirun -n 2 allreduce_bench --progress   # async progress design comparison
//
// Bus bandwidth = 2(n-1)/n * bytes / time (nccl-tests convention). Each time is
// the best of 3 trials of the mean over k iterations, the slowest rank counted.

#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <mpi.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "comm/comm_config.h"
#include "comm/factory.h"
#include "comm/mpi/environment.h"

namespace {

using autoglm::comm::CommConfig;
using autoglm::comm::Communicator;

double maxOverRanks(double v) {
  double m = 0;
  MPI_Allreduce(&v, &m, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return m;
}

template <typename F>
double timeIt(F&& op, int iters) {
  double best = 1e30;
  op();  // warm-up
  for (int trial = 0; trial < 3; ++trial) {
    MPI_Barrier(MPI_COMM_WORLD);
    const double t0 = MPI_Wtime();
    for (int i = 0; i < iters; ++i) op();
    best = std::min(best, maxOverRanks((MPI_Wtime() - t0) / iters));
  }
  return best;
}

int itersFor(int64_t bytes) {
  if (bytes <= (64 << 10)) return 200;
  if (bytes <= (1 << 20)) return 50;
  if (bytes <= (8 << 20)) return 10;
  return 3;
}

// Spends about `ms` of CPU time in this thread (the "backward pass").
void compute(double ms) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::microseconds(static_cast<int64_t>(ms * 1000));
  volatile double x = 1;
  while (std::chrono::steady_clock::now() < end) {
    for (int i = 0; i < 1000; ++i) x = x * 1.0000001 + 1e-9;
  }
}

// Communication overlapped with computation, per iteration:
//   serial:   compute, then blocking MPI_Allreduce
//   thread:   Communicator::allreduce (communication thread), compute, wait
//   nonblock: MPI_Iallreduce, compute, a progress thread polling MPI_Test
void progressComparison(int rank, int size) {
  const int64_t bytes = 4 << 20;
  const double compute_ms = 4.0;
  const int iters = 20;
  std::vector<float> buf(bytes / 4, 1.f);
  at::Tensor t = at::ones({bytes / 4});
  CommConfig cfg;
  auto comm = autoglm::comm::makeCommunicator(cfg);
  const double serial = timeIt(
      [&] {
        compute(compute_ms);
        MPI_Allreduce(MPI_IN_PLACE, buf.data(), static_cast<int>(buf.size()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      },
      iters);
  const double thread = timeIt(
      [&] {
        auto w = comm->allreduce(t, {});
        compute(compute_ms);
        w->wait();
      },
      iters);
  MPI_Comm dup;
  MPI_Comm_dup(MPI_COMM_WORLD, &dup);
  const double nonblock = timeIt(
      [&] {
        MPI_Request req;
        MPI_Iallreduce(MPI_IN_PLACE, buf.data(), static_cast<int>(buf.size()), MPI_FLOAT, MPI_SUM, dup, &req);
        std::atomic<bool> done{false};
        std::thread progress([&] {
          int flag = 0;
          while (!flag) {
            MPI_Test(&req, &flag, MPI_STATUS_IGNORE);
            if (!flag) std::this_thread::sleep_for(std::chrono::microseconds(20));
          }
          done = true;
        });
        compute(compute_ms);
        progress.join();
      },
      iters);
  const double comm_only = timeIt(
      [&] {
        MPI_Allreduce(MPI_IN_PLACE, buf.data(), static_cast<int>(buf.size()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      },
      iters);
  MPI_Comm_free(&dup);
  if (rank == 0) {
    std::printf("progress design, %d ranks, %lld B all-reduce + %.1f ms compute per step (ms per step):\n", size,
                static_cast<long long>(bytes), compute_ms);
    std::printf("  all-reduce alone                          %8.3f\n", comm_only * 1e3);
    std::printf("  serial (compute, then MPI_Allreduce)      %8.3f\n", serial * 1e3);
    std::printf("  communication thread (ours)               %8.3f\n", thread * 1e3);
    std::printf("  MPI_Iallreduce + MPI_Test progress thread %8.3f\n", nonblock * 1e3);
  }
}

}  // namespace

int main(int argc, char** argv) {
  autoglm::comm::mpi::Environment env(&argc, &argv);
  const int rank = env.worldRank(), size = env.worldSize();
  std::string csv;
  CommConfig cfg;
  int64_t max_bytes = 64 << 20;
  bool progress = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return std::string(i + 1 < argc ? argv[++i] : ""); };
    if (a == "--csv") csv = next();
    else if (a == "--algorithm") cfg.large_allreduce_algorithm = next();
    else if (a == "--threshold") cfg.large_allreduce_threshold_bytes = std::stoll(next());
    else if (a == "--chunk") cfg.large_allreduce_chunk_bytes = std::stoll(next());
    else if (a == "--max-bytes") max_bytes = std::stoll(next());
    else if (a == "--progress") progress = true;
    else {
      if (rank == 0) std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  at::set_num_threads(1);
  if (progress) {
    progressComparison(rank, size);
    return 0;
  }
  cfg.validate();
  auto comm = autoglm::comm::makeCommunicator(cfg);
  std::ofstream out;
  if (rank == 0 && !csv.empty()) {
    out.open(csv);
    out << "ranks,bytes,mpi_us,ours_us,mpi_busbw_gbs,ours_busbw_gbs,ratio\n";
  }
  if (rank == 0) {
    std::printf("all-reduce float32, %d ranks, large path '%s' from %lld B, chunk %lld B\n", size,
                cfg.large_allreduce_algorithm.c_str(), static_cast<long long>(cfg.large_allreduce_threshold_bytes),
                static_cast<long long>(cfg.large_allreduce_chunk_bytes));
    std::printf("%12s %12s %12s %12s %12s %8s\n", "bytes", "mpi_us", "ours_us", "mpi_GB/s", "ours_GB/s", "ratio");
  }
  for (int64_t bytes = 4; bytes <= max_bytes; bytes *= 4) {
    const int64_t n = bytes / 4;
    at::Tensor t = at::ones({n});
    std::vector<float> buf(n, 1.f);
    const int iters = itersFor(bytes);
    const double t_mpi = timeIt(
        [&] { MPI_Allreduce(MPI_IN_PLACE, buf.data(), static_cast<int>(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD); },
        iters);
    const double t_ours = timeIt([&] { comm->allreduce(t, {})->wait(); }, iters);
    const double factor = size > 1 ? 2.0 * (size - 1) / size : 1.0;
    const double bw_mpi = factor * bytes / t_mpi / 1e9, bw_ours = factor * bytes / t_ours / 1e9;
    if (rank == 0) {
      std::printf("%12lld %12.1f %12.1f %12.3f %12.3f %8.2f\n", static_cast<long long>(bytes), t_mpi * 1e6,
                  t_ours * 1e6, bw_mpi, bw_ours, t_mpi / t_ours);
      std::fflush(stdout);
      if (out) out << size << "," << bytes << "," << t_mpi * 1e6 << "," << t_ours * 1e6 << "," << bw_mpi << ","
                   << bw_ours << "," << t_mpi / t_ours << "\n";
    }
  }
  return 0;
}
