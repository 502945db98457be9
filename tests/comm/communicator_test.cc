// The checks and message prefix every backend shares (comm/communicator.cc).

#include "comm/communicator.h"

#include <ATen/Functions.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "tests/loopback_communicator.h"

namespace autoglm::comm {
namespace {

std::string errorOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const CommError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(CommunicatorChecks, OnePrefixForEveryOperation) {
  test::LoopbackComm comm(4);
  EXPECT_EQ(detail::opPrefix(comm, "allreduce"), "[Rank 0] loopback allreduce on group 'loopback' (size 4): ");
  EXPECT_EQ(detail::opPrefix(comm, "recv", 12), "[Rank 0] loopback recv on group 'loopback' (size 4, SeqNum=12): ");
}

TEST(CommunicatorChecks, ShapesTagsAndDtypes) {
  test::LoopbackComm comm(4);
  EXPECT_EQ(errorOf([&] { detail::checkDivisible(at::zeros({8, 2}), comm, "alltoall"); }), "(no error)");
  EXPECT_EQ(errorOf([&] { detail::checkDivisible(at::zeros({6}), comm, "alltoall"); }),
            "[Rank 0] loopback alltoall on group 'loopback' (size 4): input of shape [6] needs a first dimension "
            "divisible by the group size 4");
  EXPECT_NE(errorOf([&] { detail::checkDivisible(at::zeros({}), comm, "reduceScatter"); }), "(no error)");
  EXPECT_EQ(errorOf([&] { detail::checkTag(7, 16, comm, "send"); }), "(no error)");
  EXPECT_EQ(errorOf([&] { detail::checkTag(17, 16, comm, "send"); }),
            "[Rank 0] loopback send on group 'loopback' (size 4): tag 17 is outside [0, 16]");
  EXPECT_EQ(errorOf([&] { detail::checkTag(-1, 16, comm, "recv"); }).find("tag -1"), 53u);
  EXPECT_EQ(errorOf([&] { detail::checkPeerDtype(2, at::kInt, at::kFloat, comm, "allgatherv", 9); }),
            "[Rank 0] loopback allgatherv on group 'loopback' (size 4, SeqNum=9): rank 2 sent dtype Int but this "
            "rank has Float");
  EXPECT_EQ(errorOf([&] { detail::checkPeer(4, comm, "send"); }),
            "[Rank 0] loopback send on group 'loopback' (size 4): peer rank 4 is outside [0, 4)");
}

}  // namespace
}  // namespace autoglm::comm
