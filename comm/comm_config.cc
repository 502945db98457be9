#include "comm/comm_config.h"

#include "core/error.h"

namespace autoglm::comm {

void CommConfig::validate() const {
  using autoglm::detail::concat;
  if (backend != "mpi" && backend != "nccl") {
    throw ConfigError(concat("comm.backend: '", backend, "' must be one of mpi, nccl"));
  }
  if (large_allreduce_algorithm != "chunked" && large_allreduce_algorithm != "ring") {
    throw ConfigError(concat("comm.large_allreduce_algorithm: '", large_allreduce_algorithm,
                             "' must be one of chunked, ring"));
  }
  if (timeout_ms < 1) throw ConfigError(concat("comm.timeout_ms: ", timeout_ms, " must be >= 1"));
  if (large_allreduce_chunk_bytes < 4096 || large_allreduce_chunk_bytes > (int64_t{1} << 30)) {
    throw ConfigError(concat("comm.large_allreduce_chunk_bytes: ", large_allreduce_chunk_bytes,
                             " must be in [4096, 1073741824]"));
  }
  if (shm_chunk_bytes < 4096 || shm_chunk_bytes > (int64_t{1} << 30)) {
    throw ConfigError(concat("comm.shm_chunk_bytes: ", shm_chunk_bytes, " must be in [4096, 1073741824]"));
  }
  if (shm_direct_max_bytes < 0 || shm_direct_max_bytes > shm_chunk_bytes) {
    throw ConfigError(concat("comm.shm_direct_max_bytes: ", shm_direct_max_bytes,
                             " must be in [0, comm.shm_chunk_bytes = ", shm_chunk_bytes, "]"));
  }
  if (cuda_device < -1) throw ConfigError(concat("comm.cuda_device: ", cuda_device, " must be >= -1"));
}

}  // namespace autoglm::comm
