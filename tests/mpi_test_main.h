#pragma once
// Helpers for multi-rank test binaries linked with mpi_test_main.cc.

#include <memory>

#include "comm/comm_config.h"
#include "comm/communicator.h"

namespace autoglm::test {

// A fresh communicator over all ranks (MPI backend).
std::shared_ptr<comm::Communicator> worldComm(const comm::CommConfig& cfg = {});

}  // namespace autoglm::test
