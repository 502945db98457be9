#pragma once
// The one place that picks a communicator backend.

#include <memory>

#include "comm/comm_config.h"
#include "comm/communicator.h"
#include "comm/observer.h"

namespace autoglm::comm {

// Communicator over all MPI ranks ("world") for cfg.backend. MPI must be
// initialised (mpi::Environment) for every backend: NCCL bootstraps over MPI.
// Throws ConfigError for an unknown backend or "nccl" in a build without NCCL;
// never falls back to another backend.
//
// What Work::wait() does depends on the backend:
//   mpi   blocks the calling host thread until the operation completed; the
//         tensors hold the result when it returns.
//   nccl  makes the caller's CUDA stream (the legacy default stream) wait for
//         the operation, then blocks the host until its event fired, so both
//         later device work and host reads see the result. NcclWork::
//         synchronizeStream() only orders the stream and returns at once.
// observer (may be null) watches it and every communicator split from it.
std::shared_ptr<Communicator> makeCommunicator(const CommConfig& cfg,
                                               std::shared_ptr<CollectiveObserver> observer = nullptr);

}  // namespace autoglm::comm
