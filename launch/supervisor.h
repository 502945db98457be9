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
// then the job gets SIGTERM and, after a grace period, SIGKILL.
//
// Timeouts follow observed step times: a collective may stay pending in a step
// phase for max(floor, step_factor x p99 step time); checkpoint and evaluation
// phases get max(long_phase, 4 x floor), start-up (data preparation) startup.

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

namespace autoglm::launch {

struct SupervisorOptions {
  double floor_s = 10.0;        // silence timeout, and the least any collective may wait
  double step_factor = 10.0;    // collectives in step phases: max(floor, factor x p99 step time)
  double long_phase_s = 120.0;  // checkpoint and eval phases: max(this, 4 x floor)
  double startup_s = 1800.0;    // before the first step (data preparation)
  double connect_s = 120.0;     // every rank says hello within this
  double grace_s = 10.0;        // SIGTERM, then SIGKILL after this
};

struct Outcome {
  bool success = false;
  int wait_status = 0;         // of mpirun
  std::string reason;          // one line, for the launcher's last line
  int64_t last_step = 0;       // highest step any rank reported
  bool config_error = false;   // a rank ended the job with a configuration error (exit 2)
};

class Supervisor {
 public:
  // Listens on bind_address (an IPv4 address; port chosen by the system).
  Supervisor(int world, SupervisorOptions opts, const std::string& bind_address);
  ~Supervisor();
  uint16_t port() const;

  // Watches the job until it ends or fails (then ends it). Prints the report
  // of a failure on stderr as it is found.
  Outcome supervise(ChildProcess& child);

 private:
  struct Session;
  struct RankView;
  struct GroupView {
    std::string name;
    std::vector<int> ranks;  // world ranks by group rank
  };
  struct SeqEntry {
    OpRecord op;
    int rank;
  };

  void accept();
  void onLine(Session& s, const std::string& line);
  void onHeartbeat(int rank, const nlohmann::json& hb);
  void onOps(int rank, const nlohmann::json& ops);
  void onClosed(Session& s);
  void tick();
  std::optional<std::string> findFailure();
  std::optional<std::string> findStuck(int rank, double age_s);
  double collectiveLimit(const std::string& phase) const;
  std::string describeRank(int rank) const;
  std::string describeOp(const OpRecord& op, bool with_group = true) const;
  std::string waitersFor(int culprit) const;
  void fail(const std::string& report);

  int world_;
  SupervisorOptions opts_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::unique_ptr<boost::asio::steady_timer> timer_;
  std::vector<std::unique_ptr<Session>> sessions_;
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
};

}  // namespace autoglm::launch
