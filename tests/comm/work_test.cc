#include "comm/work.h"

#include <gtest/gtest.h>

#include <thread>

#include "core/error.h"

namespace autoglm::comm {
namespace {

WorkInfo info() {
  WorkInfo i;
  i.backend = "mpi";
  i.group = "tp";
  i.rank = 3;
  i.op = OpType::kBroadcast;
  i.seq = 7;
  i.timeout = std::chrono::milliseconds(20);
  return i;
}

TEST(Work, TimeoutMessageNamesRankOpSeqAndTimeout) {
  Work w(info());
  try {
    w.wait();
    FAIL();
  } catch (const CommError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("[Rank 3]"), std::string::npos) << m;
    EXPECT_NE(m.find("MpiWork(SeqNum=7, OpType=BROADCAST, Group=tp"), std::string::npos) << m;
    EXPECT_NE(m.find("after 20 ms"), std::string::npos) << m;
  }
  EXPECT_FALSE(w.isCompleted());
}

TEST(Work, FinishFromAnotherThreadWakesWaiter) {
  Work w(info());
  std::thread t([&] { w.finish({}); });
  w.wait(std::chrono::milliseconds(10000));
  t.join();
  EXPECT_TRUE(w.isCompleted());
  EXPECT_TRUE(w.isSuccess());
  EXPECT_TRUE(w.result().empty());
}

TEST(Work, StoredFailureIsRethrown) {
  Work w(info());
  w.fail(std::make_exception_ptr(CommError("boom")));
  EXPECT_TRUE(w.isCompleted());
  EXPECT_FALSE(w.isSuccess());
  EXPECT_THROW(w.wait(), CommError);
  EXPECT_THROW(w.result(), CommError);
}

}  // namespace
}  // namespace autoglm::comm
