#pragma once
// RAII owner of the MPI library: MPI_Init_thread(MPI_THREAD_MULTIPLE) in the
// constructor, MPI_Finalize in the destructor. Create one in main(), before any
// communicator, and destroy every communicator before it.

namespace autoglm::comm::mpi {

class Environment {
 public:
  // Throws CommError if MPI cannot give MPI_THREAD_MULTIPLE (the communication
  // threads of several communicators call MPI concurrently). If MPI is already
  // initialised (by someone else) only checks the thread level and does not finalise.
  Environment(int* argc, char*** argv);
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  int worldRank() const { return rank_; }
  int worldSize() const { return size_; }

  // This process's rank and the job's size as the launcher (mpirun, PMI, PMIx)
  // tells its ranks through the environment, read before MPI is initialised:
  // 0 and 1 when started without one. The one place that reads those variables.
  static int launchedRank();
  static int launchedSize();
  // Ends every rank of the job with `code` (MPI_Abort on MPI_COMM_WORLD).
  [[noreturn]] static void abortJob(int code);

 private:
  bool owns_ = false;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace autoglm::comm::mpi
