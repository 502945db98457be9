#include "launch/supervisor_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/host_runtime.h"
#include "core/log.h"

namespace autoglm::launch {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

constexpr size_t kMaxOutbox = 4096;  // operations kept between two heartbeats

}  // namespace

SupervisorClient::SupervisorClient(const std::string& address, const std::string& secret, int rank, int world,
                                   int attempt, ClientOptions opts)
    : rank_(rank),
      world_(world),
      interval_(opts.interval),
      on_stop_(std::move(opts.on_stop)),
      on_kill_(std::move(opts.on_kill)) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) throw ConfigError("--supervisor " + address + ": expected HOST:PORT");
  const std::string host = address.substr(0, colon), port = address.substr(colon + 1);
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  std::string last_error;
  while (!connected_ && Clock::now() < deadline) {
    try {
      tcp::resolver resolver(io_);
      asio::connect(socket_, resolver.resolve(host, port));
      socket_.set_option(tcp::no_delay(true));
      connected_ = true;
    } catch (const std::exception& e) {
      last_error = e.what();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  if (!connected_) {
    core::log::warn("supervisor at {} unreachable ({}); training without it", address, last_error);
    return;
  }
  const ProcessIdentity me = ownIdentity();
  send({{"t", "hello"},
        {"rank", rank_},
        {"world", world_},
        {"secret", secret},
        {"host", core::hostName()},
        {"pid", me.pid},
        {"boot_id", me.boot_id},
        {"pid_ns", me.pid_ns},
        {"start", me.start},
        {"attempt", attempt}});
  thread_ = std::thread([this] { loop(); });
  reader_ = std::thread([this] { readLoop(); });
}

SupervisorClient::~SupervisorClient() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (connected_) {
    try {
      send(heartbeat());
      send({{"t", "bye"}, {"rank", rank_}});
    } catch (...) {  // destructors never throw
    }
  }
  if (reader_.joinable()) {
    ::shutdown(socket_.native_handle(), SHUT_RDWR);  // ends the reader's recv
    reader_.join();
  }
}

// Lines from the supervisor; plain recv on the socket's descriptor, so that
// shutdown() in the destructor ends it whatever the sending thread does.
void SupervisorClient::readLoop() {
  const int fd = socket_.native_handle();
  std::string buffer;
  char chunk[512];
  for (;;) {
    const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) return;
    buffer.append(chunk, static_cast<size_t>(n));
    if (buffer.size() > 4096) return;  // the supervisor sends short lines only
    for (auto nl = buffer.find('\n'); nl != std::string::npos; nl = buffer.find('\n')) {
      const std::string line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      if (line == R"({"t":"kill"})") {
        core::log::error("the supervisor ended this rank (the job is being ended)");
        if (on_kill_) {
          on_kill_();
        } else {
          ::kill(::getpid(), SIGKILL);
        }
      } else if (line == R"({"t":"stop"})") {
        core::log::warn("the supervisor asked this rank to stop (autoglm-launch was interrupted)");
        if (on_stop_) {
          on_stop_();
        } else {
          ::kill(::getpid(), SIGTERM);  // as the signal would have come under plain mpirun
        }
      }
    }
  }
}

void SupervisorClient::send(const nlohmann::json& message) {
  std::lock_guard<std::mutex> lock(send_mu_);
  if (!connected_) return;
  const std::string line = message.dump() + "\n";
  boost::system::error_code ec;
  asio::write(socket_, asio::buffer(line), ec);
  if (ec) {
    connected_ = false;
    core::log::warn("lost the supervisor connection ({}); training on without it", ec.message());
  }
}

void SupervisorClient::reportError(const std::string& message, bool config_error) {
  send({{"t", "error"}, {"rank", rank_}, {"message", message}, {"config", config_error}});
}

void SupervisorClient::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, interval_, [this] { return stop_; });
    if (stop_) break;
    nlohmann::json hb = heartbeat();  // under mu_
    lock.unlock();
    send(hb);
    lock.lock();
  }
}

// Takes what accumulated since the last heartbeat; the caller holds mu_ (or the
// thread is stopped).
nlohmann::json SupervisorClient::heartbeat() {
  const auto now = Clock::now();
  auto ms = [&](Clock::time_point t) { return std::chrono::duration<double, std::milli>(now - t).count(); };
  nlohmann::json pending = nlohmann::json::array();
  for (const auto& [key, p] : pending_) {
    OpRecord op = p.op;
    op.ms = ms(p.since);
    pending.push_back(toJson(op));
  }
  nlohmann::json ops = nlohmann::json::array();
  for (const auto& op : outbox_) ops.push_back(toJson(op));
  outbox_.clear();
  nlohmann::json hb{{"t", "hb"},        {"rank", rank_},
                    {"step", step_},    {"phase", core::enumName(phase_)},
                    {"phase_ms", ms(phase_since_)}, {"steps", step_seconds_},
                    {"groups", new_groups_}, {"pending", pending},
                    {"ops", ops}};
  if (has_last_) hb["last"] = toJson(last_);
  if (!phases_done_.empty()) {
    nlohmann::json done = nlohmann::json::array();
    for (const auto& [name, seconds] : phases_done_) done.push_back({{"phase", name}, {"s", seconds}});
    hb["phases_done"] = done;
    phases_done_.clear();
  }
  step_seconds_.clear();
  new_groups_.clear();
  return hb;
}

void SupervisorClient::onGroup(uint64_t group, const std::string& name, const std::vector<int>& world_ranks) {
  std::lock_guard<std::mutex> lock(mu_);
  new_groups_.push_back({{"g", hex(group)}, {"name", name}, {"ranks", world_ranks}});
}

void SupervisorClient::onIssue(uint64_t group, const comm::WorkInfo& info) {
  OpRecord op;
  op.group = group;
  op.op = comm::toString(info.op);
  op.dtype = info.dtype != nullptr ? info.dtype : "";
  op.numel = info.numel;
  op.bytes = info.bytes;
  op.peer = info.peer;
  // Point-to-point transfers differ between the ranks of a group by design (a
  // pipeline stage sends what the next receives, in its own order): they are
  // not compared and get SeqNum 0 here; collectives are numbered among
  // themselves. An all-gather of varying sizes compares without its count.
  const bool p2p = info.op == comm::OpType::kSend || info.op == comm::OpType::kRecv ||
                   info.op == comm::OpType::kBatchP2P;
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t& h = hashes_[group];
  if (!p2p) {
    op.seq = ++collectives_[group];
    h = nextOpHash(h, op.op, op.dtype, info.op == comm::OpType::kAllgatherv ? 0 : op.numel);
  }
  op.hash = h;
  pending_[{group, info.seq}] = Pending{op, Clock::now()};
  last_ = op;
  has_last_ = true;
  if (outbox_.size() >= kMaxOutbox) outbox_.pop_front();
  outbox_.push_back(std::move(op));
}

void SupervisorClient::onComplete(uint64_t group, const comm::WorkInfo& info, bool ok) {
  (void)ok;
  std::lock_guard<std::mutex> lock(mu_);
  pending_.erase({group, info.seq});
}

void SupervisorClient::onPhase(parallel::Phase phase, int64_t step) {
  std::lock_guard<std::mutex> lock(mu_);
  if (phase != phase_) {
    const auto now = Clock::now();
    if (phase_ == parallel::Phase::kCheckpoint || phase_ == parallel::Phase::kEval) {
      phases_done_.emplace_back(core::enumName(phase_), std::chrono::duration<double>(now - phase_since_).count());
    }
    phase_since_ = now;
  }
  phase_ = phase;
  step_ = step;
}

void SupervisorClient::onStepEnd(int64_t step, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  step_ = step;
  step_seconds_.push_back(seconds);
}

}  // namespace autoglm::launch
