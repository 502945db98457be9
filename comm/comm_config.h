#pragma once
// Settings of the communication layer, YAML section `comm:`. Measured figures
// behind the defaults are in benchmarks/collective/README.md.

#include <array>
#include <cstdint>

#include "core/yaml_config.h"

namespace autoglm::comm {

// MPI for CPU tensors; NCCL for CUDA tensors (a build with AUTOGLM_WITH_NCCL).
enum class Backend { kMpi, kNccl };
constexpr std::array<core::EnumName<Backend>, 2> enumNames(Backend) {
  return {{{Backend::kMpi, "mpi"}, {Backend::kNccl, "nccl"}}};
}

// The MPI all-reduce of large messages across hosts: MPI_Allreduce over chunks,
// or a pipelined reduce-scatter + all-gather ring over point-to-point.
enum class LargeAllreduceAlgorithm { kChunked, kRing };
constexpr std::array<core::EnumName<LargeAllreduceAlgorithm>, 2> enumNames(LargeAllreduceAlgorithm) {
  return {{{LargeAllreduceAlgorithm::kChunked, "chunked"}, {LargeAllreduceAlgorithm::kRing, "ring"}}};
}

struct CommConfig {
  Backend backend = Backend::kMpi;
  // Default timeout of every operation, in milliseconds.
  int64_t timeout_ms = 600000;
  // MPI all-reduce (not the shared-memory path) of at least this many bytes takes
  // the large-message path; a negative value disables it. Open MPI's
  // MPI_Allreduce loses most of its bandwidth above about 24 MiB.
  int64_t large_allreduce_threshold_bytes = 24 << 20;
  LargeAllreduceAlgorithm large_allreduce_algorithm = LargeAllreduceAlgorithm::kChunked;
  // Chunk size of the large-message path, in bytes.
  int64_t large_allreduce_chunk_bytes = 1 << 20;
  // MPI: an all-reduce of at most this many bytes, issued while the communicator
  // is idle, runs on the caller's thread (blocking) instead of the communication
  // thread; -1 = never. Saves the thread hand-off, which dominates small messages.
  int64_t inline_max_bytes = 256 << 10;
  // MPI, all ranks of a communicator on one host: all-reduce through a shared
  // memory segment instead of MPI (comm/mpi/shm_allreduce.h). The
  // large_allreduce_* settings then apply only to communicators spanning hosts.
  bool shm_allreduce = true;
  // Per-rank slot of that segment: larger all-reduces move in chunks of this size.
  // The segment takes 2 x (ranks + 1) x this, per communicator.
  int64_t shm_chunk_bytes = 1 << 20;
  // Up to this size every rank reduces the whole message (one synchronisation);
  // above, each rank reduces 1/size of every chunk (two). With more ranks than
  // cores, 4x this.
  int64_t shm_direct_max_bytes = 4 << 10;
  // NCCL: CUDA device index, -1 = local rank modulo the device count.
  int64_t cuda_device = -1;

  template <class V>
  void visit(V& v) {
    v.field("backend", backend);
    v.field("timeout_ms", timeout_ms, core::check::atLeast<int64_t>(1));
    v.field("large_allreduce_threshold_bytes", large_allreduce_threshold_bytes);
    v.field("large_allreduce_algorithm", large_allreduce_algorithm);
    v.field("large_allreduce_chunk_bytes", large_allreduce_chunk_bytes,
            core::check::between<int64_t>(4096, int64_t{1} << 30));
    v.field("inline_max_bytes", inline_max_bytes, core::check::atLeast<int64_t>(-1));
    v.field("shm_allreduce", shm_allreduce);
    v.field("shm_chunk_bytes", shm_chunk_bytes, core::check::between<int64_t>(4096, int64_t{1} << 30));
    v.field("shm_direct_max_bytes", shm_direct_max_bytes, core::check::between<int64_t>(0, int64_t{1} << 30));
    v.field("cuda_device", cuda_device, core::check::atLeast<int64_t>(-1));
  }

  // The checks of visit() on these values, and those across fields. Throws
  // ConfigError naming the key ("comm.shm_direct_max_bytes=...: ...").
  void validate() const;
};

}  // namespace autoglm::comm
