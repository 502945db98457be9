#include "comm/comm_config.h"

#include "core/error.h"

namespace autoglm::comm {

void CommConfig::validate() const {
  core::checkConfig(*this, "comm");
  if (shm_direct_max_bytes > shm_chunk_bytes) {
    throw ConfigError(autoglm::detail::concat("comm.shm_direct_max_bytes=", shm_direct_max_bytes,
                                              ": must be in [0, comm.shm_chunk_bytes = ", shm_chunk_bytes, "]"));
  }
}

}  // namespace autoglm::comm
