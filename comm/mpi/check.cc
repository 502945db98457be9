#include "comm/mpi/check.h"

#include <mpi.h>

#include "core/error.h"

namespace autoglm::comm::mpi::detail {

void checkMpi(int code, const char* expr, const char* file, int line) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {0};
  int len = 0;
  MPI_Error_string(code, text, &len);
  int rank = -1, inited = 0;
  MPI_Initialized(&inited);
  if (inited) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  throw CommError(autoglm::detail::concat("[Rank ", rank, "] ", expr, " failed at ", file, ":", line,
                                          ": ", std::string(text, len)));
}

}  // namespace autoglm::comm::mpi::detail
