#include "comm/nccl/bootstrap.h"

#include <mpi.h>


#include "comm/mpi/check.h"
#include "comm/mpi/communicator.h"
#include "comm/nccl/types.h"
#include "core/error.h"

namespace autoglm::comm::nccl {

using autoglm::detail::concat;

ncclUniqueId bootstrapUniqueId(mpi::MpiCommunicator& comm, const std::function<ncclUniqueId()>& make_id) {
  ncclUniqueId id{};
  if (comm.rank() == 0) id = make_id();
  comm.runBlocking([&id](MPI_Comm c) {
    AUTOGLM_CHECK_MPI(MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, c));
  });
  return id;
}

int pickDevice(int64_t configured, int local_rank, int device_count, int rank) {
  if (device_count <= 0) {
    throw CommError(concat("[Rank ", rank, "] NCCL backend: no CUDA device visible (device count ",
                           device_count, "); use comm.backend=mpi on CPU"));
  }
  if (configured >= 0) {
    if (configured >= device_count) {
      throw CommError(concat("[Rank ", rank, "] comm.cuda_device=", configured, " but only ", device_count,
                             " CUDA device(s) are visible"));
    }
    return static_cast<int>(configured);
  }
  return local_rank % device_count;
}

int localRank(mpi::MpiCommunicator& comm) {
  int local = 0;
  comm.runBlocking([&local](MPI_Comm c) {
    MPI_Comm node = MPI_COMM_NULL;
    AUTOGLM_CHECK_MPI(MPI_Comm_split_type(c, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
    MPI_Comm_rank(node, &local);
    MPI_Comm_free(&node);
  });
  return local;
}

GroupGuard::GroupGuard(DeviceApi& api) : api_(api) {
  api_.groupStart();
  open_ = true;
}

void GroupGuard::end() {
  if (!open_) return;
  open_ = false;
  api_.groupEnd();
}

GroupGuard::~GroupGuard() {
  if (!open_) return;
  try {
    api_.groupEnd();
  } catch (...) {  // destructors never throw
  }
}

}  // namespace autoglm::comm::nccl
