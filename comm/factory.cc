#include "comm/factory.h"

#include <mpi.h>

#include "autoglm/config.h"
#include "comm/mpi/communicator.h"
#include "core/error.h"
#if AUTOGLM_WITH_NCCL
#include "comm/nccl/communicator.h"
#endif

namespace autoglm::comm {

std::shared_ptr<Communicator> makeCommunicator(const CommConfig& cfg, std::shared_ptr<CollectiveObserver> observer) {
  cfg.validate();
  int inited = 0;
  MPI_Initialized(&inited);
  if (!inited) {
    throw CommError("makeCommunicator: MPI is not initialised; create an "
                    "autoglm::comm::mpi::Environment in main() first");
  }
  switch (cfg.backend) {
    case Backend::kMpi:
      return std::make_shared<mpi::MpiCommunicator>(MPI_COMM_WORLD, cfg, "world", std::move(observer));
    case Backend::kNccl: {
#if AUTOGLM_WITH_NCCL
      auto bootstrap = std::make_shared<mpi::MpiCommunicator>(MPI_COMM_WORLD, cfg, "world");
      return std::make_shared<nccl::NcclCommunicator>(bootstrap, cfg, "world");
#else
      throw ConfigError("comm.backend: 'nccl' needs a build with AUTOGLM_WITH_NCCL=ON "
                        "(CUDA toolkit and NCCL found at configure time)");
#endif
    }
  }
  throw ConfigError(autoglm::detail::concat("comm.backend: unknown backend ", static_cast<int>(cfg.backend)));
}

}  // namespace autoglm::comm
