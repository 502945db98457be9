#pragma once
// The launcher's supervisor: a TCP server (Boost.Asio) that every rank of the
// job connects to (supervisor_client.h). While the job runs it watches, every
// 100 ms, for
//   - a rank whose connection closed without "bye" (it died),
//   - a rank that sent nothing for the silence timeout (stopped or hung hard),
//   - a collective pending longer than its phase allows on some rank: then the
//     members of that group that have not issued it are named,
//   - two ranks that issued different operations (op, dtype, count) on one
//     group at the same sequence number (mismatched collectives),
//   - ranks that never connected, and mpirun exiting before every rank said bye.
// The first failure is reported as it is found (rank, host, pid, last step and
// phase, last collective, and which ranks wait in which collective for it),
// then the job gets SIGTERM and, after a grace period, SIGKILL: mpirun's
// process group is killed, every connected rank is told to end itself, and a
// reported pid is signalled only when it is a process of this host (same boot
// id and PID namespace, same start time): a pid from another host is never
// signalled here.
//
// Timeouts follow observed times: a collective may stay pending in a step phase
// for max(floor, step_factor x p99 step time); in the checkpoint and evaluation
// phases for max(their option, 4 x floor, 4 x the longest such phase seen in
// this job, restarts included); before the first step (data preparation) for
// startup.
//
// The port is open to whoever reaches it: rank_channel.h says what a
// connection must send (the job's secret first, secret() here, passed to the
// ranks by the launcher) and what closes it; nothing a client sends ends the job.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "launch/process.h"
#include "launch/protocol.h"
#include "launch/rank_channel.h"

namespace autoglm::launch {

struct SupervisorOptions {
  double floor_s = 10.0;         // silence timeout, and the least any collective may wait
  double step_factor = 10.0;     // collectives in step phases: max(floor, factor x p99 step time)
  double checkpoint_s = 120.0;   // collectives in the checkpoint phase: at least this
  double eval_s = 120.0;         // collectives in the evaluation phase: at least this
  double startup_s = 1800.0;     // before the first step (data preparation)
  double connect_s = 120.0;      // every rank says hello within this
  double grace_s = 10.0;         // SIGTERM, then SIGKILL after this
  double hello_s = 10.0;         // a connection says hello within this
};

// Longest checkpoint and evaluation phases seen so far (seconds): the launcher
// carries them from one attempt to the next.
struct PhaseHistory {
  double checkpoint_s = 0.0;
  double eval_s = 0.0;
  int64_t checkpoints = 0;  // checkpoint phases that ended (rank 0's host holds a checkpoint)
};

struct Outcome {
  bool success = false;
  int wait_status = 0;         // of mpirun
  std::string reason;          // one line, for the launcher's last line
  int64_t last_step = 0;       // highest step any rank reported
  bool config_error = false;   // a rank ended the job with a configuration error (exit 2)
  int interrupted = 0;         // the signal (SIGINT, SIGTERM) that stopped the job, 0 if none
  PhaseHistory phases;         // with what this attempt saw
};

class Supervisor {
 public:
  // Listens on bind_address (an IPv4 address; port chosen by the system), with
  // a fresh random secret.
  Supervisor(int world, SupervisorOptions opts, const std::string& bind_address, PhaseHistory seen = {});
  ~Supervisor();
  uint16_t port() const;
  const std::string& secret() const;

  // Watches the job until it ends or fails (then ends it). Prints the report
  // of a failure on stderr as it is found. With handle_signals, SIGINT and
  // SIGTERM to this process are the user's: the first asks every rank to stop
  // (they save a checkpoint and exit 130, as under plain mpirun), a second ends
  // the job at once; the outcome says which signal came.
  Outcome supervise(ChildProcess& child, bool handle_signals = false);

 private:
  struct RankView;
  struct GroupView {
    std::string name;
    std::vector<int> ranks;  // world ranks by group rank
  };
  struct SeqEntry {
    OpRecord op;
    int rank;
  };

  void onHello(int rank, const nlohmann::json& msg);
  void onMessage(int rank, const std::string& type, const nlohmann::json& msg);
  void sendToRanks(const std::string& line);
  void killLocalRanks();
  void onSignal(int sig);
  void onHeartbeat(int rank, const nlohmann::json& hb);
  void onOps(int rank, const nlohmann::json& ops);
  void tick();
  std::optional<std::string> findFailure();
  std::optional<std::string> findStuck(int rank, double age_s);
  double collectiveLimit(const std::string& phase) const;
  std::string describeRank(int rank) const;
  std::string describeOp(const OpRecord& op, bool with_group = true) const;
  std::string waitersFor(int culprit) const;
  void fail(const std::string& report);
  void endJob();
  void onJobExited(int status);

  int world_;
  SupervisorOptions opts_;
  PhaseHistory seen_;
  boost::asio::io_context io_;
  std::unique_ptr<RankChannel> channel_;
  std::unique_ptr<boost::asio::steady_timer> timer_;
  std::vector<RankView> ranks_;
  std::map<uint64_t, GroupView> groups_;
  std::map<uint64_t, std::map<uint64_t, SeqEntry>> history_;  // group -> seq -> first report
  std::deque<double> step_times_;
  std::chrono::steady_clock::time_point start_;
  ChildProcess* child_ = nullptr;
  Outcome outcome_;
  bool failed_ = false;
  std::chrono::steady_clock::time_point term_sent_;
  bool killed_ = false;
  bool draining_ = false;  // mpirun exited; waiting for connected ranks to end
  std::chrono::steady_clock::time_point drain_since_;
  ProcessIdentity own_;  // this process: whose host a rank shares
};

}  // namespace autoglm::launch
