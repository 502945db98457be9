#include "comm/mpi/request.h"

#include <thread>

#include "comm/mpi/check.h"

namespace autoglm::comm::mpi {

void waitPolitely(MPI_Request& req) {
  int done = 0;
  for (;;) {
    AUTOGLM_CHECK_MPI(MPI_Test(&req, &done, MPI_STATUS_IGNORE));
    if (done) return;
    std::this_thread::yield();
  }
}

}  // namespace autoglm::comm::mpi
