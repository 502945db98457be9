#include "comm/mpi/environment.h"

#include <mpi.h>

#include "comm/mpi/check.h"
#include "core/error.h"

namespace autoglm::comm::mpi {

Environment::Environment(int* argc, char*** argv) {
  int inited = 0;
  AUTOGLM_CHECK_MPI(MPI_Initialized(&inited));
  int provided = 0;
  if (!inited) {
    AUTOGLM_CHECK_MPI(MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided));
    owns_ = true;
  } else {
    AUTOGLM_CHECK_MPI(MPI_Query_thread(&provided));
  }
  AUTOGLM_CHECK_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
  AUTOGLM_CHECK_MPI(MPI_Comm_size(MPI_COMM_WORLD, &size_));
  if (provided < MPI_THREAD_MULTIPLE) {
    if (owns_) MPI_Finalize();
    throw CommError(autoglm::detail::concat(
        "[Rank ", rank_, "] MPI provides thread level ", provided,
        " but the communicators need MPI_THREAD_MULTIPLE (", MPI_THREAD_MULTIPLE,
        "); use an MPI build with thread support"));
  }
}

Environment::~Environment() {
  if (owns_) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
}

}  // namespace autoglm::comm::mpi
