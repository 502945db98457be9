#pragma once
// The one place that picks a communicator backend.

#include <memory>

#include "comm/comm_config.h"
#include "comm/communicator.h"

namespace autoglm::comm {

// Communicator over all MPI ranks ("world") for cfg.backend. MPI must be
// initialised (mpi::Environment) for every backend: NCCL bootstraps over MPI.
// Throws ConfigError for an unknown backend or "nccl" in a build without NCCL;
// never falls back to another backend.
std::shared_ptr<Communicator> makeCommunicator(const CommConfig& cfg);

}  // namespace autoglm::comm
