// main() of multi-rank test binaries: initialises MPI, runs GoogleTest on every
// rank, prints failures with the rank, exits nonzero if any rank failed.

#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdio>
#include <string>

#include "comm/factory.h"
#include "comm/mpi/environment.h"
#include "core/log.h"
#include "tests/mpi_test_main.h"

namespace autoglm::test {

std::shared_ptr<comm::Communicator> worldComm(const comm::CommConfig& cfg) {
  return comm::makeCommunicator(cfg);
}

namespace {

class RankFailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit RankFailurePrinter(int rank) : rank_(rank) {}
  // The name is taken here: asking GoogleTest for the current test from inside
  // OnTestPartResult would take a lock it already holds.
  void OnTestStart(const ::testing::TestInfo& info) override {
    name_ = std::string(info.test_suite_name()) + "." + info.name();
  }
  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (!r.failed()) return;
    std::fprintf(stderr, "[rank %d] FAILED %s at %s:%d\n%s\n", rank_, name_.c_str(),
                 r.file_name() ? r.file_name() : "?", r.line_number(), r.message());
    std::fflush(stderr);
  }

 private:
  int rank_;
  std::string name_ = "?";
};

}  // namespace
}  // namespace autoglm::test

int main(int argc, char** argv) {
  int rc = 1;
  try {
    autoglm::comm::mpi::Environment env(&argc, &argv);
    autoglm::core::log::init();
    ::testing::InitGoogleTest(&argc, argv);
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    if (env.worldRank() != 0) delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new autoglm::test::RankFailurePrinter(env.worldRank()));
    int local = RUN_ALL_TESTS();
    int any = 0;
    MPI_Allreduce(&local, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (env.worldRank() == 0) std::printf("%s on %d rank(s)\n", any ? "FAILED" : "PASSED", env.worldSize());
    rc = any;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "test main: %s\n", e.what());
    rc = 1;
  }
  return rc;
}
