// A job whose two ranks issue different collectives at the same sequence
// number (rank 0 an all-reduce, the others an all-gather), run by
// launch_mismatch_test.sh under autoglm-launch exec: the supervisor must report
// it and end the job instead of leaving it hung.
//   autoglm-launch -n 2 exec mismatch_rank   (appends --supervisor HOST:PORT --attempt N)

#include <ATen/Functions.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "comm/factory.h"
#include "comm/mpi/environment.h"
#include "core/log.h"
#include "launch/supervisor_client.h"

int main(int argc, char** argv) {
  autoglm::comm::mpi::Environment env(&argc, &argv);
  autoglm::core::log::init();
  std::string address;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--supervisor") address = argv[i + 1];
  }
  const char* secret = std::getenv(autoglm::launch::kSecretVariable);
  auto client = std::make_shared<autoglm::launch::SupervisorClient>(address, secret != nullptr ? secret : "",
                                                                    env.worldRank(), env.worldSize(), 0);
  auto world = autoglm::comm::makeCommunicator(autoglm::comm::CommConfig{}, client);
  at::Tensor t = at::ones({4});
  world->allreduce(t, {})->wait();  // SeqNum 1: the same everywhere
  if (env.worldRank() == 0) {
    world->allreduce(t, {})->wait();  // SeqNum 2: ALLREDUCE here ...
  } else {
    world->allgather(t, {})->wait();  // ... ALLGATHER on the others
  }
  std::cerr << "mismatch_rank: rank " << env.worldRank() << " was not stopped" << std::endl;
  return 0;
}
