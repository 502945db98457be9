// The supervisor against in-process clients (the real SupervisorClient over
// loopback TCP) and a stand-in for mpirun (`sleep`): each kind of failure is
// found, reported with the ranks involved, and ends the "job".

#include "launch/supervisor.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <future>
#include <memory>
#include <thread>

#include "launch/supervisor_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <csignal>

namespace autoglm::launch {
namespace {

using namespace std::chrono_literals;

comm::WorkInfo op(comm::OpType type, uint64_t seq, int64_t numel) {
  comm::WorkInfo w;
  w.op = type;
  w.seq = seq;
  w.numel = numel;
  w.bytes = 4 * numel;
  w.dtype = "Float";
  return w;
}

struct Job {
  SupervisorOptions opts;
  std::unique_ptr<Supervisor> sup;
  std::unique_ptr<ChildProcess> child;
  std::future<Outcome> outcome;
  std::string address;

  explicit Job(int world, double floor_s = 1.0) {
    opts.floor_s = floor_s;
    opts.grace_s = 1.0;
    opts.connect_s = 30.0;
    sup = std::make_unique<Supervisor>(world, opts, "127.0.0.1");
    address = "127.0.0.1:" + std::to_string(sup->port());
    child = std::make_unique<ChildProcess>(std::vector<std::string>{"sleep", "60"});
    outcome = std::async(std::launch::async, [this] { return sup->supervise(*child); });
  }
  Outcome wait() {
    EXPECT_EQ(outcome.wait_for(30s), std::future_status::ready) << "the supervisor did not end the job";
    return outcome.get();
  }
};

TEST(Supervisor, MismatchedCollectivesAreReported) {
  Job job(2);
  SupervisorClient a(job.address, 0, 2, 0, 50ms), b(job.address, 1, 2, 0, 50ms);
  for (auto* c : {&a, &b}) c->onGroup(7, "world", {0, 1});
  a.onIssue(7, op(comm::OpType::kAllreduce, 1, 4));
  b.onIssue(7, op(comm::OpType::kAllgather, 1, 4));
  const Outcome o = job.wait();
  EXPECT_FALSE(o.success);
  EXPECT_NE(o.reason.find("mismatched collectives on group 'world' at SeqNum=1 (ranks "), std::string::npos)
      << o.reason;
  EXPECT_TRUE(WIFSIGNALED(o.wait_status)) << "the job was ended";
}

TEST(Supervisor, EqualCollectivesAreNotAMismatch) {
  Job job(2, /*floor_s=*/0.5);
  {
    SupervisorClient a(job.address, 0, 2, 0, 50ms), b(job.address, 1, 2, 0, 50ms);
    for (auto* c : {&a, &b}) {
      c->onGroup(7, "world", {0, 1});
      for (uint64_t s = 1; s <= 50; ++s) {
        c->onIssue(7, op(comm::OpType::kAllreduce, s, 8));
        c->onComplete(7, op(comm::OpType::kAllreduce, s, 8), true);
      }
    }
    std::this_thread::sleep_for(300ms);
  }  // both say bye
  job.child->signalGroup(SIGTERM);  // "mpirun" ends
  const Outcome o = job.wait();
  EXPECT_EQ(o.reason.find("mismatched"), std::string::npos) << o.reason;
}

// A pipeline's ranks send and receive different transfers between the same
// collectives, and an all-gather of varying sizes differs in count: neither is
// a mismatch.
TEST(Supervisor, PointToPointAndVaryingAllgathersAreNotAMismatch) {
  Job job(2, /*floor_s=*/0.5);
  {
    SupervisorClient a(job.address, 0, 2, 0, 50ms), b(job.address, 1, 2, 0, 50ms);
    for (auto* c : {&a, &b}) c->onGroup(7, "pp", {0, 1});
    uint64_t seq_a = 0, seq_b = 0;
    for (int k = 0; k < 3; ++k) {  // stage 0 sends twice, stage 1 receives once, then both all-reduce
      a.onIssue(7, op(comm::OpType::kSend, ++seq_a, 100));
      a.onIssue(7, op(comm::OpType::kBatchP2P, ++seq_a, 100));
      b.onIssue(7, op(comm::OpType::kRecv, ++seq_b, 200));
      a.onIssue(7, op(comm::OpType::kAllgatherv, ++seq_a, 3 + k));
      b.onIssue(7, op(comm::OpType::kAllgatherv, ++seq_b, 9));
      a.onIssue(7, op(comm::OpType::kAllreduce, ++seq_a, 8));
      b.onIssue(7, op(comm::OpType::kAllreduce, ++seq_b, 8));
    }
    std::this_thread::sleep_for(300ms);
  }
  job.child->signalGroup(SIGTERM);
  const Outcome o = job.wait();
  EXPECT_EQ(o.reason.find("mismatched"), std::string::npos) << o.reason;
}

// Point-to-point transfers do not hide a real mismatch of the collectives after them.
TEST(Supervisor, CollectivesAfterPointToPointAreStillCompared) {
  Job job(2);
  SupervisorClient a(job.address, 0, 2, 0, 50ms), b(job.address, 1, 2, 0, 50ms);
  for (auto* c : {&a, &b}) c->onGroup(7, "pp", {0, 1});
  a.onIssue(7, op(comm::OpType::kSend, 1, 100));
  a.onIssue(7, op(comm::OpType::kAllreduce, 2, 4));
  b.onIssue(7, op(comm::OpType::kBroadcast, 1, 4));
  const Outcome o = job.wait();
  EXPECT_NE(o.reason.find("mismatched collectives on group 'pp' at SeqNum=1 (ranks "), std::string::npos) << o.reason;
}

TEST(Supervisor, ARankThatStopsSendingIsNamedWithWhoWaitsForIt) {
  Job job(2, /*floor_s=*/0.5);
  SupervisorClient a(job.address, 0, 2, 0, 50ms);
  SupervisorClient silent(job.address, 1, 2, 0, std::chrono::hours(1));  // hello only
  a.onGroup(7, "dp", {0, 1});
  a.onPhase(parallel::Phase::kReduce, 12);
  // The silence (counted from the hello) and the wait share one limit: the
  // collective starts well after the hello has arrived, so the silence is
  // found first, as it would be in a job.
  std::this_thread::sleep_for(150ms);
  a.onIssue(7, op(comm::OpType::kAllreduce, 3, 1000));
  const Outcome o = job.wait();
  EXPECT_NE(o.reason.find("rank 1 (host"), std::string::npos) << o.reason;
  EXPECT_NE(o.reason.find("stopped responding"), std::string::npos) << o.reason;
}

TEST(Supervisor, ACollectiveWaitingPastItsLimitNamesTheRankThatDidNotIssueIt) {
  Job job(2, /*floor_s=*/0.5);
  SupervisorClient a(job.address, 0, 2, 0, 50ms), b(job.address, 1, 2, 0, 50ms);
  for (auto* c : {&a, &b}) c->onGroup(7, "dp", {0, 1});
  for (auto* c : {&a, &b}) {
    c->onIssue(7, op(comm::OpType::kAllreduce, 1, 8));
    c->onComplete(7, op(comm::OpType::kAllreduce, 1, 8), true);
    c->onPhase(parallel::Phase::kForward, 4);
  }
  a.onIssue(7, op(comm::OpType::kAllreduce, 2, 8));  // rank 1 never gets there
  const Outcome o = job.wait();
  EXPECT_NE(o.reason.find("rank 0 (host"), std::string::npos) << o.reason;
  EXPECT_NE(o.reason.find("in ALLREDUCE on group 'dp' (SeqNum=2"), std::string::npos) << o.reason;
}

// A rank that crashes: hello, an error line, then the connection drops without bye.
void crashingRank(const std::string& address, int rank, const std::string& error) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  const auto colon = address.rfind(':');
  boost::asio::ip::tcp::resolver resolver(io);
  boost::asio::connect(socket, resolver.resolve(address.substr(0, colon), address.substr(colon + 1)));
  const std::string lines = "{\"t\":\"hello\",\"rank\":" + std::to_string(rank) +
                            ",\"world\":2,\"host\":\"nodeB\",\"pid\":4242}\n{\"t\":\"error\",\"rank\":" +
                            std::to_string(rank) + ",\"message\":\"" + error + "\"}\n";
  boost::asio::write(socket, boost::asio::buffer(lines));
  std::this_thread::sleep_for(100ms);
}

TEST(Supervisor, ARankWhoseConnectionDropsDiedAndItsErrorIsKept) {
  Job job(2);
  SupervisorClient a(job.address, 0, 2, 0, 50ms);
  crashingRank(job.address, 1, "step 3: the gradient is not finite");
  const Outcome o = job.wait();
  EXPECT_NE(o.reason.find("rank 1 (host nodeB, pid 4242) died at step 0: step 3: the gradient is not finite"),
            std::string::npos)
      << o.reason;
}

}  // namespace
}  // namespace autoglm::launch
