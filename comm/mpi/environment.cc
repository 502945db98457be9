#include "comm/mpi/environment.h"

#include <mpi.h>

#include <algorithm>
#include <cstdlib>
#include <initializer_list>

#include "comm/mpi/check.h"
#include "core/error.h"

namespace autoglm::comm::mpi {
namespace {

int launchedValue(std::initializer_list<const char*> vars, int fallback) {
  for (const char* var : vars) {
    if (const char* v = std::getenv(var); v != nullptr && *v != '\0') return std::atoi(v);
  }
  return fallback;
}

}  // namespace

int Environment::launchedRank() {
  return std::max(0, launchedValue({"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"}, 0));
}

int Environment::launchedSize() {
  return std::max(1, launchedValue({"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE"}, 1));
}

void Environment::abortJob(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::abort();  // MPI_Abort does not return; if it did, end this process anyway
}

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
