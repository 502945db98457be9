// All-reduce latency and bus bandwidth: our MPI communicator against plain
// MPI_Allreduce in the same run, sizes 4 B .. 64 MiB (float32).
//
//   mpirun -n 2 allreduce_bench --csv out.csv [--algorithm chunked|ring]
//          [--threshold BYTES] [--chunk BYTES] [--inline-max BYTES]
//          [--no-shm] [--shm-chunk BYTES] [--shm-direct-max BYTES]
//          [--min-bytes N] [--max-bytes N] [--trials N]
//   mpirun -n 2 allreduce_bench --progress   # async progress design comparison
//
// Bus bandwidth = 2(n-1)/n * bytes / time (nccl-tests convention). Each time is
// the best over --trials trials (default 7) of the mean over k iterations, the
// slowest rank counted. Trials of MPI_Allreduce and ours alternate (the order
// flips every trial), so a change in machine load hits both alike.

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
#include <utility>
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
double timeTrial(F& op, int iters) {
  MPI_Barrier(MPI_COMM_WORLD);
  const double t0 = MPI_Wtime();
  for (int i = 0; i < iters; ++i) op();
  return maxOverRanks((MPI_Wtime() - t0) / iters);
}

// Best of `trials` trials of `iters` iterations.
template <typename F>
double timeIt(F&& op, int iters, int trials = 3) {
  double best = 1e30;
  op();  // warm-up
  for (int trial = 0; trial < trials; ++trial) best = std::min(best, timeTrial(op, iters));
  return best;
}

// Best times of `a` and `b`, their trials interleaved (a b, b a, a b, ...).
template <typename A, typename B>
std::pair<double, double> timeInterleaved(A&& a, B&& b, int iters, int trials) {
  double best_a = 1e30, best_b = 1e30;
  a();  // warm-up
  b();
  for (int trial = 0; trial < trials; ++trial) {
    if (trial % 2 == 0) {
      best_a = std::min(best_a, timeTrial(a, iters));
      best_b = std::min(best_b, timeTrial(b, iters));
    } else {
      best_b = std::min(best_b, timeTrial(b, iters));
      best_a = std::min(best_a, timeTrial(a, iters));
    }
  }
  return {best_a, best_b};
}

// About 2-10 ms per trial at every size.
int itersFor(int64_t bytes) {
  if (bytes <= (4 << 10)) return 2000;
  if (bytes <= (64 << 10)) return 300;
  if (bytes <= (1 << 20)) return 40;
  if (bytes <= (8 << 20)) return 8;
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
  int64_t min_bytes = 4, max_bytes = 64 << 20;
  int trials = 7;
  bool progress = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return std::string(i + 1 < argc ? argv[++i] : ""); };
    if (a == "--csv") csv = next();
    else if (a == "--algorithm") {
      const std::string name = next();
      const auto algo = autoglm::core::parseEnum<autoglm::comm::LargeAllreduceAlgorithm>(name);
      if (!algo) {
        if (rank == 0) std::fprintf(stderr, "--algorithm %s: use chunked or ring\n", name.c_str());
        return 2;
      }
      cfg.large_allreduce_algorithm = *algo;
    }
    else if (a == "--threshold") cfg.large_allreduce_threshold_bytes = std::stoll(next());
    else if (a == "--chunk") cfg.large_allreduce_chunk_bytes = std::stoll(next());
    else if (a == "--inline-max") cfg.inline_max_bytes = std::stoll(next());
    else if (a == "--no-shm") cfg.shm_allreduce = false;
    else if (a == "--shm-chunk") cfg.shm_chunk_bytes = std::stoll(next());
    else if (a == "--shm-direct-max") cfg.shm_direct_max_bytes = std::stoll(next());
    else if (a == "--min-bytes") min_bytes = std::stoll(next());
    else if (a == "--max-bytes") max_bytes = std::stoll(next());
    else if (a == "--trials") trials = std::stoi(next());
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
    if (cfg.shm_allreduce) {
      std::printf("all-reduce float32, %d ranks, shared memory (falls back to MPI across hosts): direct up to %lld B, "
                  "chunk %lld B; inline up to %lld B; best of %d interleaved trials\n",
                  size, static_cast<long long>(cfg.shm_direct_max_bytes), static_cast<long long>(cfg.shm_chunk_bytes),
                  static_cast<long long>(cfg.inline_max_bytes), trials);
    } else {
      std::printf("all-reduce float32, %d ranks, MPI, large path '%s' from %lld B, chunk %lld B; inline up to %lld B; "
                  "best of %d interleaved trials\n",
                  size, autoglm::core::enumName(cfg.large_allreduce_algorithm),
                  static_cast<long long>(cfg.large_allreduce_threshold_bytes),
                  static_cast<long long>(cfg.large_allreduce_chunk_bytes), static_cast<long long>(cfg.inline_max_bytes),
                  trials);
    }
    std::printf("%12s %12s %12s %12s %12s %8s\n", "bytes", "mpi_us", "ours_us", "mpi_GB/s", "ours_GB/s", "ratio");
  }
  for (int64_t bytes = 4; bytes <= max_bytes; bytes *= 4) {
    if (bytes < min_bytes) continue;
    const int64_t n = bytes / 4;
    // Zeros: repeated sums stay finite.
    at::Tensor t = at::zeros({n});
    std::vector<float> buf(n, 0.f);
    const auto [t_mpi, t_ours] = timeInterleaved(
        [&] { MPI_Allreduce(MPI_IN_PLACE, buf.data(), static_cast<int>(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD); },
        [&] { comm->allreduce(t, {})->wait(); }, itersFor(bytes), trials);
    const double factor = size > 1 ? 2.0 * (size - 1) / size : 1.0;
    const double bw_mpi = factor * bytes / t_mpi / 1e9, bw_ours = factor * bytes / t_ours / 1e9;
    if (rank == 0) {
      std::printf("%12lld %12.2f %12.2f %12.3f %12.3f %8.2f\n", static_cast<long long>(bytes), t_mpi * 1e6,
                  t_ours * 1e6, bw_mpi, bw_ours, t_mpi / t_ours);
      std::fflush(stdout);
      if (out) out << size << "," << bytes << "," << t_mpi * 1e6 << "," << t_ours * 1e6 << "," << bw_mpi << ","
                   << bw_ours << "," << t_mpi / t_ours << "\n";
    }
  }
  return 0;
}
