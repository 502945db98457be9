#pragma once
// Settings of the communication layer, YAML section `comm:`.

#include <cstdint>
#include <string>

#include "core/yaml_config.h"

namespace autoglm::comm {

struct CommConfig {
  // "mpi" (CPU tensors) or "nccl" (CUDA tensors, needs a build with AUTOGLM_WITH_NCCL).
  std::string backend = "mpi";
  // Default timeout of every operation, in milliseconds.
  int64_t timeout_ms = 600000;
  // MPI all-reduce (not the shared-memory path) of at least this many bytes takes
  // the large-message path; a negative value disables it. Open MPI 4.1's
  // MPI_Allreduce falls from ~5 GB/s to ~0.1-0.4 GB/s between 24 and 32 MiB on 2
  // ranks here; at 16 MiB it beat 1 MiB chunks (x0.77), at 24 MiB it lost (x1.11)
  // (benchmarks/collective, --no-shm).
  int64_t large_allreduce_threshold_bytes = 24 << 20;
  // Large-message algorithm: "chunked" (MPI_Allreduce over chunks) or "ring"
  // (pipelined reduce-scatter + allgather ring over point-to-point).
  std::string large_allreduce_algorithm = "chunked";
  // Chunk size of the large-message path, in bytes.
  int64_t large_allreduce_chunk_bytes = 1 << 20;
  // MPI: an all-reduce of at most this many bytes, issued while the communicator
  // is idle, runs on the caller's thread (blocking) instead of the communication
  // thread; -1 = never. Saves the thread hand-off, which dominates small messages.
  int64_t inline_max_bytes = 256 << 10;
  // MPI, all ranks of a communicator on one host: all-reduce through a shared
  // memory segment instead of MPI (comm/mpi/shm_allreduce.h), 1.3-3.5x
  // MPI_Allreduce's bus bandwidth from 4 B to 16 MiB on 2 ranks
  // (benchmarks/collective). The large_allreduce_* settings then apply only to
  // communicators spanning hosts.
  bool shm_allreduce = true;
  // Per-rank slot of that segment: larger all-reduces move in chunks of this size.
  // The segment takes 2 x (ranks + 1) x this, per communicator. 1 MiB was best at
  // 1-16 MiB on 4 ranks, equal to 512 KiB on 2 ranks; 128 KiB and 2 MiB were slower.
  int64_t shm_chunk_bytes = 1 << 20;
  // Up to this size every rank reduces the whole message (one synchronisation);
  // above, each rank reduces 1/size of every chunk (two). 2 ranks: equal at 4 KiB,
  // direct faster below, chunked above. With more ranks than cores, 4x this.
  int64_t shm_direct_max_bytes = 4 << 10;
  // NCCL: CUDA device index, -1 = local rank modulo the device count.
  int64_t cuda_device = -1;

  template <class V>
  void visit(V& v) {
    v.field("backend", backend, check::oneOf({"mpi", "nccl"}));
    v.field("timeout_ms", timeout_ms, check::atLeast<int64_t>(1));
    v.field("large_allreduce_threshold_bytes", large_allreduce_threshold_bytes);
    v.field("large_allreduce_algorithm", large_allreduce_algorithm, check::oneOf({"chunked", "ring"}));
    v.field("large_allreduce_chunk_bytes", large_allreduce_chunk_bytes,
            check::between<int64_t>(4096, int64_t{1} << 30));
    v.field("inline_max_bytes", inline_max_bytes, check::atLeast<int64_t>(-1));
    v.field("shm_allreduce", shm_allreduce);
    v.field("shm_chunk_bytes", shm_chunk_bytes, check::between<int64_t>(4096, int64_t{1} << 30));
    v.field("shm_direct_max_bytes", shm_direct_max_bytes, check::between<int64_t>(0, int64_t{1} << 30));
    v.field("cuda_device", cuda_device, check::atLeast<int64_t>(-1));
  }

  // Throws ConfigError naming the key ("comm.backend: ...") for values that no
  // single-field check catches.
  void validate() const;
};

}  // namespace autoglm::comm
