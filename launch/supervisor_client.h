#pragma once
// A rank's side of the supervisor (supervisor.h): connects to the address the
// launcher gave (--supervisor HOST:PORT), says hello, and from a thread of its
// own sends a heartbeat every `interval` with what the rank is doing: its step
// and phase (as the Trainer reports them), the collectives it waits in and the
// ones it issued since the last heartbeat (as its communicators report them).
// The heartbeat thread runs whatever the training thread does, so a rank that
// stops sending is stopped or dead, and one whose collective stays pending
// waits for a peer.
//
// If the supervisor cannot be reached the rank trains on, with one warning.
//
// The hello carries the job's secret (the launcher passes it in the
// environment, AUTOGLM_SUPERVISOR_SECRET), and what lets the supervisor tell a
// process of its own host from one elsewhere: the boot id, the PID namespace
// and the process's start time beside its pid. The supervisor may ask, on the
// same connection, that the rank stop as on SIGTERM ("stop": save a checkpoint
// and exit 130) or end at once ("kill"): a rank on another host is ended
// through its own process, never by a pid sent over the network.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "comm/observer.h"
#include "launch/protocol.h"
#include "parallel/run_observer.h"

namespace autoglm::launch {

struct ClientOptions {
  std::chrono::milliseconds interval{200};  // between heartbeats
  std::function<void()> on_stop;            // the supervisor asks the rank to stop (reader thread); default: SIGTERM to this process
  std::function<void()> on_kill;            // ... to end now; default: SIGKILL to this process
};

class SupervisorClient final : public comm::CollectiveObserver, public parallel::RunObserver {
 public:
  // address: "host:port"; secret: the job's (AUTOGLM_SUPERVISOR_SECRET).
  // Connects (retrying for up to 10 s) before returning.
  SupervisorClient(const std::string& address, const std::string& secret, int rank, int world, int attempt,
                   ClientOptions opts = {});
  // Sends "bye" (a rank that ends normally) and stops the thread.
  ~SupervisorClient() override;
  SupervisorClient(const SupervisorClient&) = delete;
  SupervisorClient& operator=(const SupervisorClient&) = delete;

  bool connected() const { return connected_; }
  // The rank is about to end the job with this error (a configuration error:
  // the launcher does not restart it): sent at once.
  void reportError(const std::string& message, bool config_error = false);

  void onGroup(uint64_t group, const std::string& name, const std::vector<int>& world_ranks) override;
  void onIssue(uint64_t group, const comm::WorkInfo& op) override;
  void onComplete(uint64_t group, const comm::WorkInfo& op, bool ok) override;
  void onPhase(parallel::Phase phase, int64_t step) override;
  void onStepEnd(int64_t step, double seconds) override;

 private:
  using Clock = std::chrono::steady_clock;
  struct Pending {
    OpRecord op;
    Clock::time_point since;
  };

  void loop();
  void readLoop();  // what the supervisor sends: "stop", "kill"
  nlohmann::json heartbeat();
  void send(const nlohmann::json& message);  // under send_mu_

  int rank_, world_;
  std::chrono::milliseconds interval_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_{io_};
  bool connected_ = false;
  std::mutex send_mu_;

  std::mutex mu_;  // everything below
  std::condition_variable cv_;
  bool stop_ = false;
  parallel::Phase phase_ = parallel::Phase::kStartup;
  Clock::time_point phase_since_ = Clock::now();
  int64_t step_ = 0;
  std::vector<double> step_seconds_;
  std::vector<nlohmann::json> new_groups_;
  std::map<uint64_t, uint64_t> hashes_;                     // group -> rolling hash
  std::map<uint64_t, uint64_t> collectives_;                // group -> collectives issued
  std::map<std::pair<uint64_t, uint64_t>, Pending> pending_;  // (group, seq)
  OpRecord last_;
  bool has_last_ = false;
  std::deque<OpRecord> outbox_;  // issued since the last heartbeat
  std::vector<std::pair<std::string, double>> phases_done_;  // checkpoint/eval phases ended since the last heartbeat
  std::thread thread_;
  std::function<void()> on_stop_, on_kill_;
  std::thread reader_;
};

}  // namespace autoglm::launch
