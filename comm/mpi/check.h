#pragma once
// AUTOGLM_CHECK_MPI(expr): throws CommError with the MPI error string, file and line.

#include <string>

namespace autoglm::comm::mpi::detail {
void checkMpi(int code, const char* expr, const char* file, int line);
}  // namespace autoglm::comm::mpi::detail

#define AUTOGLM_CHECK_MPI(expr) ::autoglm::comm::mpi::detail::checkMpi((expr), #expr, __FILE__, __LINE__)
