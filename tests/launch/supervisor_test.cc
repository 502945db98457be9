// The supervisor against in-process clients (the real SupervisorClient over
// loopback TCP) and a stand-in for mpirun (`sleep`): each kind of failure is
// found, reported with the ranks involved, and ends the "job".

#include "launch/supervisor.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <atomic>
#include <functional>
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

  int world;
  std::atomic<int> kills{0};  // "kill" requests the clients received

  explicit Job(int world_size, double floor_s = 1.0, PhaseHistory seen = {},
               const std::function<void(SupervisorOptions&)>& tune = {},
               const std::vector<std::string>& mpirun = {"sleep", "60"})
      : world(world_size) {
    opts.floor_s = floor_s;
    opts.grace_s = 1.0;
    opts.connect_s = 30.0;
    if (tune) tune(opts);
    sup = std::make_unique<Supervisor>(world, opts, "127.0.0.1", seen);
    address = "127.0.0.1:" + std::to_string(sup->port());
    child = std::make_unique<ChildProcess>(mpirun);
    outcome = std::async(std::launch::async, [this] { return sup->supervise(*child); });
  }
  // A rank's client with the job's secret; a "kill" from the supervisor is
  // counted, not carried out (this test process would be its target).
  SupervisorClient rank(int r, std::chrono::milliseconds interval = 50ms) {
    return SupervisorClient(address, sup->secret(), r, world, 0, ClientOptions{interval, {}, [this] { ++kills; }});
  }
  Outcome wait() {
    EXPECT_EQ(outcome.wait_for(30s), std::future_status::ready) << "the supervisor did not end the job";
    return outcome.get();
  }
};

TEST(Supervisor, MismatchedCollectivesAreReported) {
  Job job(2);
  SupervisorClient a = job.rank(0), b = job.rank(1);
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
    SupervisorClient a = job.rank(0), b = job.rank(1);
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
    SupervisorClient a = job.rank(0), b = job.rank(1);
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
  SupervisorClient a = job.rank(0), b = job.rank(1);
  for (auto* c : {&a, &b}) c->onGroup(7, "pp", {0, 1});
  a.onIssue(7, op(comm::OpType::kSend, 1, 100));
  a.onIssue(7, op(comm::OpType::kAllreduce, 2, 4));
  b.onIssue(7, op(comm::OpType::kBroadcast, 1, 4));
  const Outcome o = job.wait();
  EXPECT_NE(o.reason.find("mismatched collectives on group 'pp' at SeqNum=1 (ranks "), std::string::npos) << o.reason;
}

TEST(Supervisor, ARankThatStopsSendingIsNamedWithWhoWaitsForIt) {
  Job job(2, /*floor_s=*/0.5);
  SupervisorClient a = job.rank(0);
  SupervisorClient silent = job.rank(1, std::chrono::hours(1));  // hello only
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
  SupervisorClient a = job.rank(0), b = job.rank(1);
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

// A raw connection to the supervisor: sends `text`, stays open while it lives.
struct RawClient {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket{io};
  explicit RawClient(const std::string& address, const std::string& text = "") {
    const auto colon = address.rfind(':');
    boost::asio::ip::tcp::resolver resolver(io);
    boost::asio::connect(socket, resolver.resolve(address.substr(0, colon), address.substr(colon + 1)));
    if (!text.empty()) send(text);
  }
  void send(const std::string& text) {
    boost::system::error_code ec;
    boost::asio::write(socket, boost::asio::buffer(text), ec);
  }
  // True once the supervisor closed the connection (waits up to 2 s).
  bool closedByPeer() {
    socket.non_blocking(true);
    char c;
    for (int i = 0; i < 200; ++i) {
      boost::system::error_code ec;
      socket.read_some(boost::asio::buffer(&c, 1), ec);
      if (ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
};

std::string helloLine(int rank, const std::string& secret, int pid = 4242) {
  return "{\"t\":\"hello\",\"rank\":" + std::to_string(rank) + ",\"world\":2,\"secret\":\"" + secret +
         "\",\"host\":\"nodeB\",\"pid\":" + std::to_string(pid) + "}\n";
}

// A rank that crashes: hello, an error line, then the connection drops without bye.
void crashingRank(const std::string& address, const std::string& secret, int rank, const std::string& error) {
  RawClient c(address, helloLine(rank, secret) + "{\"t\":\"error\",\"rank\":" + std::to_string(rank) +
                           ",\"message\":\"" + error + "\"}\n");
  std::this_thread::sleep_for(100ms);
}

TEST(Supervisor, ARankWhoseConnectionDropsDiedAndItsErrorIsKept) {
  Job job(2);
  SupervisorClient a = job.rank(0);
  crashingRank(job.address, job.sup->secret(), 1, "step 3: the gradient is not finite");
  const Outcome o = job.wait();
  EXPECT_NE(o.reason.find("rank 1 (host nodeB, pid 4242) died at step 0: step 3: the gradient is not finite"),
            std::string::npos)
      << o.reason;
}

// Whatever a client sends, the job goes on: malformed or unauthenticated lines,
// a fake bye, a line past the limit, more idle connections than allowed. Each
// of those connections is closed; the two real ranks finish and nothing is
// reported against them.
TEST(Supervisor, MalformedOrUnauthenticatedInputClosesThatConnectionOnly) {
  Job job(2, /*floor_s=*/1.0);
  std::vector<std::unique_ptr<RawClient>> bad;
  {
    SupervisorClient a = job.rank(0), b = job.rank(1);
    for (const std::string& text : std::vector<std::string>{"5\n", "[1,2]\n", "not json\n", "{\"t\":\"hello\",\"rank\":\"x\"}\n", helloLine(1, "wrong-secret"),
          "{\"t\":\"bye\",\"rank\":1}\n", "{\"t\":\"hb\",\"rank\":0,\"step\":\"x\"}\n", helloLine(1, job.sup->secret()),
          helloLine(7, job.sup->secret())}) {
      bad.push_back(std::make_unique<RawClient>(job.address, text));
      EXPECT_TRUE(bad.back()->closedByPeer()) << "not closed after: " << text;
    }
    RawClient huge(job.address);
    huge.send(std::string(RankChannel::kMaxLine + 1024, 'x'));
    EXPECT_TRUE(huge.closedByPeer()) << "a line past the limit was kept";
    std::vector<std::unique_ptr<RawClient>> idle;
    for (int i = 0; i < RankChannel::kSpareSessions + 4; ++i) idle.push_back(std::make_unique<RawClient>(job.address));
    EXPECT_TRUE(idle.front()->closedByPeer()) << "the oldest idle connection was kept past the limit";
    EXPECT_EQ(job.outcome.wait_for(1500ms), std::future_status::timeout)
        << "the job ended: " << job.outcome.get().reason;
  }  // both real ranks say bye
  job.child->signalGroup(SIGTERM);  // "mpirun" ends
  const Outcome o = job.wait();
  EXPECT_EQ(o.reason.rfind("mpirun ended", 0), 0u) << "a rank was blamed: " << o.reason;
}

// A bye on an unauthenticated connection does not hide a rank that hangs.
TEST(Supervisor, AFakeByeDoesNotHideAHang) {
  Job job(2, /*floor_s=*/0.5);
  SupervisorClient a = job.rank(0);
  SupervisorClient silent = job.rank(1, std::chrono::hours(1));
  RawClient fake(job.address, "{\"t\":\"bye\",\"rank\":1}\n");
  const Outcome o = job.wait();
  EXPECT_NE(o.reason.find("rank 1 (host"), std::string::npos) << o.reason;
  EXPECT_NE(o.reason.find("stopped responding"), std::string::npos) << o.reason;
}

// The rank that reported an error is named, not the lowest-numbered one whose
// connection closed first.
TEST(Supervisor, TheRankThatReportedAnErrorIsNamed) {
  Job job(2);
  SupervisorClient b = job.rank(1);
  b.reportError("step 9: out of memory");
  crashingRank(job.address, job.sup->secret(), 0, "");  // rank 0 goes first, saying nothing
  const Outcome o = job.wait();
  EXPECT_NE(o.reason.find("rank 1 (host"), std::string::npos) << o.reason;
  EXPECT_NE(o.reason.find("step 9: out of memory"), std::string::npos) << o.reason;
}

// A configuration error reported by a rank ends the job as one (no restart),
// whatever status mpirun ends with.
TEST(Supervisor, AReportedConfigErrorIsNotRestarted) {
  Job job(2);
  SupervisorClient b = job.rank(1);
  b.reportError("run.out_dir=/x is not one folder shared by all ranks", /*config_error=*/true);
  crashingRank(job.address, job.sup->secret(), 0, "");
  const Outcome o = job.wait();
  EXPECT_TRUE(o.config_error) << o.reason;
}

// A pid that a hello reports is signalled only when it is this host's process
// that said hello: here a local process with that number, but not the
// reporter (no boot id, namespace or start time match), survives the end of the
// job, and the connected rank is asked to end itself instead.
TEST(Supervisor, AReportedPidOfAnotherProcessIsNeverKilled) {
  ChildProcess bystander({"sleep", "60"});
  Job job(2, 1.0, {}, {}, {"sh", "-c", "trap '' TERM; sleep 60"});  // an "mpirun" that outlives SIGTERM
  SupervisorClient a = job.rank(0);
  RawClient liar(job.address, helloLine(1, job.sup->secret(), bystander.pid()));
  std::this_thread::sleep_for(200ms);
  liar.socket.close();  // "rank 1 died"
  const Outcome o = job.wait();
  EXPECT_NE(o.reason.find("rank 1"), std::string::npos) << o.reason;
  std::this_thread::sleep_for(1500ms);  // past the grace period
  EXPECT_FALSE(bystander.poll().has_value()) << "the supervisor killed a process it did not start";
  EXPECT_GE(job.kills.load(), 1) << "the connected rank was not asked to end";
}

// Checkpoint phases: a collective may wait at least --checkpoint-timeout, and
// four times the longest checkpoint seen, earlier attempts included.
TEST(Supervisor, CheckpointLimitsFollowTheOptionAndObservedTimes) {
  auto run = [](PhaseHistory seen) {
    Job job(2, /*floor_s=*/0.2, seen, [](SupervisorOptions& o) { o.checkpoint_s = 0.5; });
    SupervisorClient a = job.rank(0), b = job.rank(1);
    for (auto* c : {&a, &b}) c->onGroup(7, "world", {0, 1});
    a.onPhase(parallel::Phase::kCheckpoint, 10);
    b.onPhase(parallel::Phase::kCheckpoint, 10);
    b.onIssue(7, op(comm::OpType::kBarrier, 1, 0));  // rank 0 writes; rank 1 waits
    const bool ended = job.outcome.wait_for(2500ms) == std::future_status::ready;
    std::string reason = ended ? job.outcome.get().reason : "";
    if (!ended) {
      a.onIssue(7, op(comm::OpType::kBarrier, 1, 0));
      a.onComplete(7, op(comm::OpType::kBarrier, 1, 0), true);
      b.onComplete(7, op(comm::OpType::kBarrier, 1, 0), true);
      a.onPhase(parallel::Phase::kForward, 11);  // the checkpoint took about 2.5 s
      std::this_thread::sleep_for(200ms);
      job.child->signalGroup(SIGTERM);  // "mpirun" ends
    }
    return std::make_pair(ended, reason);
  };
  const auto [ended, reason] = run(PhaseHistory{});
  EXPECT_TRUE(ended) << "a 2.5 s wait passed a 0.5 s checkpoint limit";
  EXPECT_NE(reason.find("BARRIER"), std::string::npos) << reason;
  EXPECT_FALSE(run(PhaseHistory{/*checkpoint_s=*/1.0, 0.0}).first)
      << "a checkpoint of 1 s seen before should allow 4 s";
}

// A pending receive is named with its peer and what the peer does, not as a
// collective every member issued.
TEST(Supervisor, APendingReceiveNamesItsPeer) {
  Job job(2, /*floor_s=*/0.3);
  SupervisorClient a = job.rank(0), b = job.rank(1);
  for (auto* c : {&a, &b}) c->onGroup(9, "pp", {0, 1});
  b.onPhase(parallel::Phase::kForward, 3);
  a.onPhase(parallel::Phase::kBackward, 3);
  comm::WorkInfo recv = op(comm::OpType::kRecv, 1, 0);
  recv.peer = 0;
  b.onIssue(9, recv);
  const Outcome o = job.wait();
  EXPECT_NE(o.reason.find("rank 1"), std::string::npos) << o.reason;
  EXPECT_NE(o.reason.find("RECV"), std::string::npos) << o.reason;
}

}  // namespace
}  // namespace autoglm::launch
