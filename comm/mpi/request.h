#pragma once
// Completing nonblocking MPI requests on the communication thread (ring
// all-reduce) while yielding the core between tests, so that a computation
// thread waiting for the core gets it.

#include <mpi.h>

namespace autoglm::comm::mpi {

// MPI_Test in a loop with sched_yield between tests. Throws CommError on an MPI error.
void waitPolitely(MPI_Request& req);

}  // namespace autoglm::comm::mpi
