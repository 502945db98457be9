// SelfCommunicator: a group of one answers every collective as a group of one
// would, and names what has no peer.

#include "comm/self_communicator.h"

#include <ATen/Functions.h>
#include <gtest/gtest.h>

#include "core/error.h"

namespace autoglm::comm {
namespace {

TEST(SelfCommunicator, CollectivesOfOneRank) {
  SelfCommunicator c("dp");
  EXPECT_EQ(c.rank(), 0);
  EXPECT_EQ(c.size(), 1);
  at::Tensor t = at::arange(4, at::kFloat);
  c.allreduce(t, {ReduceOp::kAvg})->wait();
  EXPECT_TRUE(at::equal(t, at::arange(4, at::kFloat)));
  auto g = c.allgather(t, {});
  g->wait();
  EXPECT_EQ(g->result()[0].sizes(), (std::vector<int64_t>{1, 4}));
  EXPECT_TRUE(at::equal(g->result()[0][0], t));
  c.broadcast(t, {0})->wait();
  c.barrier({})->wait();
  auto s = c.split(0, 0, "tp");
  EXPECT_EQ(s->size(), 1);
  EXPECT_EQ(s->groupName(), "tp");
}

TEST(SelfCommunicator, PointToPointNamesTheMissingPeer) {
  SelfCommunicator c("pp");
  try {
    c.send(at::ones({2}), 1, {});
    FAIL() << "no error";
  } catch (const CommError& e) {
    EXPECT_NE(std::string(e.what()).find("[pp rank 0 of 1]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no peer"), std::string::npos) << e.what();
  }
  at::Tensor t = at::ones({2});
  EXPECT_THROW(c.broadcast(t, {1}), CommError);
  EXPECT_NO_THROW(c.batchP2P({}, {})->wait());
}

}  // namespace
}  // namespace autoglm::comm
