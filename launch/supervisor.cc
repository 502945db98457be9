#include "launch/supervisor.h"

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>

#include "core/error.h"

namespace autoglm::launch {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using autoglm::detail::concat;

double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string fmtSeconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f s", s);
  return buf;
}

}  // namespace

struct Supervisor::RankView {
  bool hello = false, bye = false, closed = false;
  bool config_error = false;  // its error is a configuration error
  std::string host, error;
  int pid = 0;
  std::string boot_id, pid_ns, start;  // what tells a process of this host (see killLocalRanks)
  Clock::time_point last_seen;
  int64_t step = 0;
  std::string phase = "startup";
  double phase_ms = 0.0;  // at last_seen
  std::vector<OpRecord> pending;
  std::optional<OpRecord> last;
  std::map<uint64_t, uint64_t> last_seq;  // group -> last sequence number issued
};

Supervisor::Supervisor(int world, SupervisorOptions opts, const std::string& bind_address, PhaseHistory seen)
    : world_(world),
      opts_(opts),
      seen_(seen),
      ranks_(static_cast<size_t>(world)),
      own_(ownIdentity()) {
  channel_ = std::make_unique<RankChannel>(
      io_, world, bind_address, opts.hello_s,
      RankChannel::Handlers{[this](int rank, const nlohmann::json& hello) { onHello(rank, hello); },
                            [this](int rank, const std::string& type, const nlohmann::json& msg) {
                              onMessage(rank, type, msg);
                            },
                            [this](int rank) { ranks_[static_cast<size_t>(rank)].closed = true; }});
  timer_ = std::make_unique<asio::steady_timer>(io_);
}

Supervisor::~Supervisor() = default;

uint16_t Supervisor::port() const { return channel_->port(); }

const std::string& Supervisor::secret() const { return channel_->secret(); }

void Supervisor::onHello(int rank, const nlohmann::json& msg) {
  RankView& r = ranks_[static_cast<size_t>(rank)];
  r.hello = true;
  r.closed = false;
  r.last_seen = Clock::now();
  r.host = msg.value("host", "?");
  r.pid = msg.value("pid", 0);
  r.boot_id = msg.value("boot_id", "");
  r.pid_ns = msg.value("pid_ns", "");
  r.start = msg.value("start", "");
}

// A message of an accepted rank; what throws here closes its connection.
void Supervisor::onMessage(int rank, const std::string& type, const nlohmann::json& msg) {
  RankView& r = ranks_[static_cast<size_t>(rank)];
  r.last_seen = Clock::now();
  if (type == "hb") {
    onHeartbeat(rank, msg);
  } else if (type == "error") {
    r.error = msg.value("message", "");
    r.config_error = msg.value("config", false);
  } else if (type == "bye") {
    r.bye = true;
  } else {
    throw Error("unknown message type '" + type + "'");
  }
}

void Supervisor::onHeartbeat(int rank, const nlohmann::json& hb) {
  RankView& r = ranks_[static_cast<size_t>(rank)];
  r.step = hb.value("step", int64_t{0});
  outcome_.last_step = std::max(outcome_.last_step, r.step);
  r.phase = hb.value("phase", "?");
  r.phase_ms = hb.value("phase_ms", 0.0);
  for (double s : hb.value("steps", std::vector<double>{})) {
    step_times_.push_back(s);
    if (step_times_.size() > 500) step_times_.pop_front();
  }
  for (const auto& g : hb.value("groups", nlohmann::json::array())) {
    groups_[fromHex(g.at("g").get<std::string>())] = GroupView{g.value("name", "?"), g.value("ranks", std::vector<int>{})};
  }
  r.pending.clear();
  for (const auto& p : hb.value("pending", nlohmann::json::array())) r.pending.push_back(opFromJson(p));
  if (hb.contains("last")) r.last = opFromJson(hb.at("last"));
  for (const auto& done : hb.value("phases_done", nlohmann::json::array())) {
    const std::string phase = done.at("phase").get<std::string>();
    const double seconds = done.at("s").get<double>();
    if (phase == "checkpoint" && rank == 0) ++seen_.checkpoints;
    if (phase == "checkpoint") seen_.checkpoint_s = std::max(seen_.checkpoint_s, seconds);
    if (phase == "eval") seen_.eval_s = std::max(seen_.eval_s, seconds);
  }
  onOps(rank, hb.value("ops", nlohmann::json::array()));
}

// Mismatch check: the first rank to report a (group, seq) fixes what it must be.
void Supervisor::onOps(int rank, const nlohmann::json& ops) {
  RankView& r = ranks_[static_cast<size_t>(rank)];
  for (const auto& j : ops) {
    const OpRecord op = opFromJson(j);
    if (op.seq == 0) continue;  // point-to-point: not compared
    r.last_seq[op.group] = std::max(r.last_seq[op.group], op.seq);
    auto& seen = history_[op.group];
    auto it = seen.find(op.seq);
    if (it == seen.end()) {
      seen.emplace(op.seq, SeqEntry{op, rank});
      if (seen.size() > 8192) seen.erase(seen.begin());
      continue;
    }
    if (failed_ || it->second.rank == rank || it->second.op.hash == op.hash) continue;
    const SeqEntry& first = it->second;
    const bool same_here = first.op.op == op.op && first.op.dtype == op.dtype &&
                           (first.op.numel == op.numel || op.op == "ALLGATHERV");
    fail(concat("autoglm-launch: mismatched collectives on group '", groups_[op.group].name, "' at SeqNum=", op.seq,
                ": ", describeRank(first.rank), " issued ", describeOp(first.op, false), ", ", describeRank(rank),
                " issued ", describeOp(op, false),
                same_here ? " (equal here: their operations on this group differ at an earlier SeqNum)" : ""));
    outcome_.reason = concat("mismatched collectives on group '", groups_[op.group].name, "' at SeqNum=", op.seq,
                             " (ranks ", first.rank, " and ", rank, ")");
  }
}

double Supervisor::collectiveLimit(const std::string& phase) const {
  if (phase == "startup") return std::max(opts_.startup_s, opts_.floor_s);
  if (phase == "checkpoint") return std::max({opts_.checkpoint_s, 4 * opts_.floor_s, 4 * seen_.checkpoint_s});
  if (phase == "eval" || phase == "done") return std::max({opts_.eval_s, 4 * opts_.floor_s, 4 * seen_.eval_s});
  double p99 = 0.0;
  if (step_times_.size() >= 5) {
    std::vector<double> v(step_times_.begin(), step_times_.end());
    const size_t k = std::min(v.size() - 1, static_cast<size_t>(0.99 * static_cast<double>(v.size())));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    p99 = v[k];
  }
  return std::max(opts_.floor_s, opts_.step_factor * p99);
}

std::string Supervisor::describeRank(int rank) const {
  const RankView& r = ranks_[static_cast<size_t>(rank)];
  return concat("rank ", rank, " (host ", r.host.empty() ? "?" : r.host, ", pid ", r.pid, ")");
}

std::string Supervisor::describeOp(const OpRecord& op, bool with_group) const {
  auto g = groups_.find(op.group);
  std::string s = op.op;
  if (with_group) s += concat(" on group '", g != groups_.end() ? g->second.name : std::string("?"), "'");
  s += op.seq == 0 ? std::string(" (point-to-point") : concat(" (SeqNum=", op.seq);
  if (!op.dtype.empty()) s += concat(", ", op.dtype, " x ", op.numel);
  return s + concat(", ", op.bytes, " bytes)");
}

// "waiting for it: rank 0 in ALLREDUCE on group 'dp' (SeqNum=346, ...) for 10.1 s".
std::string Supervisor::waitersFor(int culprit) const {
  std::string out;
  for (int k = 0; k < world_; ++k) {
    const RankView& w = ranks_[static_cast<size_t>(k)];
    if (k == culprit || w.pending.empty()) continue;
    const OpRecord& p = w.pending.front();
    out += concat("\n  waiting: rank ", k, " in ", describeOp(p), " for ",
                  fmtSeconds(p.ms / 1000.0 + secondsSince(w.last_seen)));
  }
  return out;
}

// The rank waiting longest in a collective past its limit, named with the
// members of that group that have not issued it. A point-to-point transfer is
// named with its peer and what the peer does.
std::optional<std::string> Supervisor::findStuck(int rank, double age_s) {
  const RankView& r = ranks_[static_cast<size_t>(rank)];
  for (const OpRecord& p : r.pending) {
    const double waited = p.ms / 1000.0 + age_s;
    const double limit = collectiveLimit(r.phase);
    if (waited <= limit) continue;
    std::string missing;
    auto g = groups_.find(p.group);
    auto state = [&](int m) {
      const RankView& other = ranks_[static_cast<size_t>(m)];
      return concat("at step ", other.step, " in phase ", other.phase,
                    other.pending.empty() ? std::string(", waiting in nothing")
                                          : ", waiting in " + describeOp(other.pending.front()));
    };
    if (p.seq == 0) {  // point-to-point
      if (g != groups_.end() && p.peer >= 0 && p.peer < static_cast<int>(g->second.ranks.size())) {
        const int m = g->second.ranks[static_cast<size_t>(p.peer)];
        if (m >= 0 && m < world_) missing = concat("\n  its peer: ", describeRank(m), ", ", state(m));
      } else if (g != groups_.end()) {
        for (int m : g->second.ranks) {
          if (m == rank || m < 0 || m >= world_) continue;
          missing += concat("\n  a peer in '", g->second.name, "': ", describeRank(m), ", ", state(m));
        }
      }
      if (missing.empty()) missing = "\n  its peer is not known";
    } else if (g != groups_.end()) {
      for (int m : g->second.ranks) {
        if (m == rank || m < 0 || m >= world_) continue;
        const RankView& other = ranks_[static_cast<size_t>(m)];
        auto last = other.last_seq.find(p.group);
        const uint64_t seq = last != other.last_seq.end() ? last->second : 0;
        if (seq >= p.seq) continue;
        missing += concat("\n  not issued by ", describeRank(m), ": its last on '", g->second.name, "' is SeqNum=", seq,
                          ", at step ", other.step, " in phase ", other.phase);
      }
    }
    if (missing.empty()) missing = "\n  every member issued it: the collective itself is stuck";
    outcome_.reason = concat(describeRank(rank), " waited ", fmtSeconds(waited), " in ", describeOp(p));
    return concat("autoglm-launch: ", describeRank(rank), " has waited ", fmtSeconds(waited), " in ", describeOp(p),
                  " (limit ", fmtSeconds(limit), " in phase ", r.phase,
                  r.phase == "checkpoint" ? "; --checkpoint-timeout sets it"
                  : r.phase == "eval"     ? "; --eval-timeout sets it"
                  : r.phase == "startup"  ? "; --startup-timeout sets it"
                                          : "",
                  ")", missing, waitersFor(rank));
  }
  return std::nullopt;
}

std::optional<std::string> Supervisor::findFailure() {
  auto state = [&](const RankView& r) {
    return concat("\n  at its last heartbeat: step ", r.step, ", phase ", r.phase, " (for ",
                  fmtSeconds(r.phase_ms / 1000.0), ")",
                  r.last ? "; last collective " + describeOp(*r.last) +
                               (r.pending.empty() ? std::string(", completed") : std::string(", not completed"))
                         : std::string());
  };
  // A rank that reported an error is the cause as soon as any rank is gone:
  // named before the ranks that ended after it (their connections may close
  // before its own).
  bool any_closed = false;
  for (const auto& r : ranks_) any_closed = any_closed || (r.hello && !r.bye && r.closed);
  for (int k = 0; k < world_ && any_closed; ++k) {
    const RankView& r = ranks_[static_cast<size_t>(k)];
    if (!r.hello || r.bye || r.error.empty()) continue;
    outcome_.reason = concat(describeRank(k), " died at step ", r.step, ": ", r.error);
    outcome_.config_error = outcome_.config_error || r.config_error;
    return concat("autoglm-launch: ", describeRank(k), " ended the job with an error: ", r.error,
                  r.closed ? " (connection lost)" : "", state(r), waitersFor(k));
  }
  // Dead or silent ranks next: they are the cause of what the others wait for.
  for (int k = 0; k < world_; ++k) {
    const RankView& r = ranks_[static_cast<size_t>(k)];
    if (!r.hello || r.bye) continue;
    if (r.closed) {
      outcome_.reason = concat(describeRank(k), " died at step ", r.step);
      return concat("autoglm-launch: ", describeRank(k), " ended without finishing (connection lost)", state(r),
                    waitersFor(k));
    }
  }
  // A rank silent for a few heartbeats while another waits past its limit is
  // the cause, even before its silence reaches the timeout: with equal limits
  // the wait (which began before the silence) would otherwise be found first.
  double longest_silence = 0.0;
  int silent_rank = -1;
  for (int k = 0; k < world_; ++k) {
    const RankView& r = ranks_[static_cast<size_t>(k)];
    if (!r.hello || r.bye || r.closed) continue;
    const double silent = secondsSince(r.last_seen);
    if (silent > longest_silence) {
      longest_silence = silent;
      silent_rank = k;
    }
  }
  const double kSilentEnough = std::min(2.0, opts_.floor_s / 2);
  auto silentReport = [&](int k, double silent) {
    const RankView& r = ranks_[static_cast<size_t>(k)];
    outcome_.reason = concat(describeRank(k), " stopped responding at step ", r.step);
    return concat("autoglm-launch: ", describeRank(k), " stopped responding: no heartbeat for ", fmtSeconds(silent),
                  " (timeout ", fmtSeconds(opts_.floor_s), ")", state(r), waitersFor(k));
  };
  if (silent_rank >= 0 && longest_silence > opts_.floor_s) return silentReport(silent_rank, longest_silence);
  for (int k = 0; k < world_; ++k) {
    const RankView& r = ranks_[static_cast<size_t>(k)];
    if (!r.hello || r.bye || r.closed) continue;
    if (auto stuck = findStuck(k, secondsSince(r.last_seen))) {
      // The silent rank itself included: what it waits in is as old as its
      // last heartbeat, and its silence is the news.
      if (silent_rank >= 0 && longest_silence > kSilentEnough) {
        return silentReport(silent_rank, longest_silence);
      }
      return stuck;
    }
  }
  if (secondsSince(start_) > opts_.connect_s) {
    std::string never;
    for (int k = 0; k < world_; ++k) {
      if (!ranks_[static_cast<size_t>(k)].hello) never += concat(never.empty() ? "" : ", ", k);
    }
    if (!never.empty()) {
      outcome_.reason = "rank(s) " + never + " never connected";
      return concat("autoglm-launch: rank(s) ", never, " did not connect to the supervisor within ",
                    fmtSeconds(opts_.connect_s), " (started? reachable at the address given?)");
    }
  }
  return std::nullopt;
}

void Supervisor::fail(const std::string& report) {
  if (failed_) return;
  failed_ = true;
  std::cerr << report << "\nautoglm-launch: ending the job (SIGTERM, SIGKILL after " << fmtSeconds(opts_.grace_s)
            << ")" << std::endl;
  if (child_ != nullptr) child_->signalGroup(SIGTERM);
  term_sent_ = Clock::now();
}

// Every line to every rank still connected and not done (best effort: a rank
// that cannot take it is ended by mpirun).
void Supervisor::sendToRanks(const std::string& line) {
  for (int k = 0; k < world_; ++k) {
    if (!ranks_[static_cast<size_t>(k)].bye) channel_->send(k, line);
  }
}

// A rank's own pid is signalled only when it is a process of this host: the
// same boot id and PID namespace as this process, and /proc/PID started when
// the rank said it did (so not another process that took the number since).
void Supervisor::killLocalRanks() {
  for (const auto& r : ranks_) {
    if (r.pid <= 0 || r.bye || r.boot_id.empty() || r.boot_id != own_.boot_id || r.pid_ns != own_.pid_ns) continue;
    if (r.start.empty() || startTimeOf(r.pid) != r.start || r.pid == own_.pid) continue;
    ::kill(r.pid, SIGKILL);
  }
}

// The end of a job that would not end: mpirun's group, every rank through its
// own connection, and this host's ranks that left the group.
void Supervisor::endJob() {
  killed_ = true;
  sendToRanks(R"({"t":"kill"})");
  child_->signalGroup(SIGKILL);
  killLocalRanks();
}

void Supervisor::onSignal(int sig) {
  if (outcome_.interrupted == 0) {
    outcome_.interrupted = sig;
    std::cerr << "autoglm-launch: " << ::strsignal(sig)
              << ": asking every rank to save a checkpoint and stop (again to end the job at once)" << std::endl;
    sendToRanks(R"({"t":"stop"})");
    // Ranks that are not connected (or never will be) get the signal the way
    // plain mpirun would give it to them.
    bool all_connected = true;
    for (int k = 0; k < world_; ++k) all_connected = all_connected && channel_->connected(k);
    if (!all_connected) child_->signalGroup(sig);
    return;
  }
  std::cerr << "autoglm-launch: " << ::strsignal(sig) << " again: ending the job now" << std::endl;
  failed_ = true;  // nothing more to report
  term_sent_ = Clock::now();
  endJob();
}

void Supervisor::tick() {
  if (!draining_) {
    if (auto status = child_->poll()) onJobExited(*status);
  }
  if (draining_) {
    // mpirun is gone; ranks still connected are still running (on another
    // host, say, whose daemon lost mpirun): they were told to end, wait for
    // their connections to close.
    bool connected = false;
    for (int k = 0; k < world_; ++k) connected = connected || (channel_->connected(k) && !ranks_[static_cast<size_t>(k)].bye);
    if (!connected || secondsSince(drain_since_) > opts_.grace_s) {
      if (connected) std::cerr << "autoglm-launch: ranks still connected " << fmtSeconds(opts_.grace_s)
                               << " after mpirun ended (stopped?): their hosts must end them" << std::endl;
      io_.stop();
      return;
    }
  } else if (outcome_.interrupted != 0 && !failed_) {
    // Stopping on the user's signal: not a failure to report.
  } else if (!failed_) {
    if (auto f = findFailure()) fail(*f);
  } else if (!killed_ && secondsSince(term_sent_) > opts_.grace_s) {
    endJob();
  }
  timer_->expires_after(std::chrono::milliseconds(100));
  timer_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) tick();
  });
}

// mpirun exited: the outcome, then no rank may outlive it.
void Supervisor::onJobExited(int status) {
  outcome_.wait_status = status;
  bool all_bye = true;
  for (const auto& r : ranks_) all_bye = all_bye && r.bye;
  const bool exited_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  outcome_.config_error = outcome_.config_error || (WIFEXITED(status) && WEXITSTATUS(status) == 2);
  if (!failed_ && outcome_.interrupted == 0) {
    if (exited_ok && all_bye) {
      outcome_.success = true;
    } else if (auto f = findFailure()) {
      fail(*f);
    } else {
      outcome_.reason = "mpirun ended (" + describeStatus(status) + ")";
      fail("autoglm-launch: mpirun ended (" + describeStatus(status) + ") before every rank finished");
    }
  }
  sendToRanks(R"({"t":"kill"})");
  killLocalRanks();
  draining_ = true;
  drain_since_ = Clock::now();
}

Outcome Supervisor::supervise(ChildProcess& child, bool handle_signals) {
  child_ = &child;
  start_ = Clock::now();
  for (auto& r : ranks_) r.last_seen = start_;
  std::unique_ptr<asio::signal_set> signals;
  std::function<void()> waitSignal;
  if (handle_signals) {
    signals = std::make_unique<asio::signal_set>(io_, SIGINT, SIGTERM);
    waitSignal = [&] {
      signals->async_wait([&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        onSignal(sig);
        waitSignal();
      });
    };
    waitSignal();
  }
  channel_->start();
  tick();
  io_.run();
  if (!outcome_.success && outcome_.reason.empty()) {
    outcome_.reason = outcome_.interrupted != 0 ? concat("stopped by ", ::strsignal(outcome_.interrupted))
                                                : "mpirun ended (" + describeStatus(outcome_.wait_status) + ")";
  }
  outcome_.phases = seen_;
  return outcome_;
}

}  // namespace autoglm::launch
