#pragma once
// Host-side setup of NCCL communicators, testable without a GPU.

#include <nccl.h>

#include <cstdint>
#include <functional>

#include "comm/nccl/device_api.h"

namespace autoglm::comm::mpi {
class MpiCommunicator;
}

namespace autoglm::comm::nccl {

// Rank 0 of `comm` calls make_id (ncclGetUniqueId in production) and the id is
// broadcast over MPI to every rank; returns the id on all ranks.
ncclUniqueId bootstrapUniqueId(mpi::MpiCommunicator& comm, const std::function<ncclUniqueId()>& make_id);

// CUDA device for this process: `configured` (comm.cuda_device) when >= 0, else
// local_rank % device_count. Throws CommError when there is no device or the
// configured index does not exist (message names rank, index and count).
int pickDevice(int64_t configured, int local_rank, int device_count, int rank);

// Rank within this host, from MPI_COMM_TYPE_SHARED.
int localRank(mpi::MpiCommunicator& comm);

// RAII ncclGroupStart/ncclGroupEnd (several operations launched as one). Call
// end() to get errors as CommError; the destructor ends a still-open group
// silently (it never throws), as when an operation inside failed.
class GroupGuard {
 public:
  explicit GroupGuard(DeviceApi& api);
  ~GroupGuard();
  void end();
  GroupGuard(const GroupGuard&) = delete;
  GroupGuard& operator=(const GroupGuard&) = delete;

 private:
  DeviceApi& api_;
  bool open_ = false;
};

}  // namespace autoglm::comm::nccl
