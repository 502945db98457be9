#include "launch/supervisor.h"

#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
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

struct Supervisor::Session {
  explicit Session(asio::io_context& io) : socket(io) {}
  tcp::socket socket;
  asio::streambuf buffer;
  int rank = -1;
  bool open = true;
};

struct Supervisor::RankView {
  bool hello = false, bye = false, closed = false;
  std::string host, error;
  int pid = 0;
  Clock::time_point last_seen;
  int64_t step = 0;
  std::string phase = "startup";
  double phase_ms = 0.0;  // at last_seen
  std::vector<OpRecord> pending;
  std::optional<OpRecord> last;
  std::map<uint64_t, uint64_t> last_seq;  // group -> last sequence number issued
};

Supervisor::Supervisor(int world, SupervisorOptions opts, const std::string& bind_address)
    : world_(world), opts_(opts), acceptor_(io_), ranks_(static_cast<size_t>(world)) {
  const tcp::endpoint ep(asio::ip::make_address(bind_address), 0);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen();
  timer_ = std::make_unique<asio::steady_timer>(io_);
}

Supervisor::~Supervisor() = default;

uint16_t Supervisor::port() const { return acceptor_.local_endpoint().port(); }

void Supervisor::accept() {
  auto session = std::make_unique<Session>(io_);
  Session* s = session.get();
  sessions_.push_back(std::move(session));
  acceptor_.async_accept(s->socket, [this, s](const boost::system::error_code& ec) {
    if (ec) return;
    auto reader = std::make_shared<std::function<void()>>();
    *reader = [this, s, reader] {
      asio::async_read_until(s->socket, s->buffer, '\n', [this, s, reader](const boost::system::error_code& e, size_t) {
        if (e) {
          onClosed(*s);
          return;
        }
        std::istream in(&s->buffer);
        std::string line;
        std::getline(in, line);
        onLine(*s, line);
        (*reader)();
      });
    };
    (*reader)();
    accept();
  });
}

void Supervisor::onLine(Session& s, const std::string& line) {
  nlohmann::json msg;
  try {
    msg = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception&) {
    return;  // not ours; ignore
  }
  const int rank = msg.value("rank", -1);
  if (rank < 0 || rank >= world_) return;
  s.rank = rank;
  RankView& r = ranks_[static_cast<size_t>(rank)];
  r.last_seen = Clock::now();
  const std::string t = msg.value("t", "");
  if (t == "hello") {
    r.hello = true;
    r.host = msg.value("host", "?");
    r.pid = msg.value("pid", 0);
  } else if (t == "hb") {
    onHeartbeat(rank, msg);
  } else if (t == "error") {
    r.error = msg.value("message", "");
  } else if (t == "bye") {
    r.bye = true;
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

void Supervisor::onClosed(Session& s) {
  if (!s.open) return;
  s.open = false;
  if (s.rank < 0) return;
  RankView& r = ranks_[static_cast<size_t>(s.rank)];
  r.closed = true;
}

double Supervisor::collectiveLimit(const std::string& phase) const {
  if (phase == "startup") return std::max(opts_.startup_s, opts_.floor_s);
  if (phase == "checkpoint" || phase == "eval" || phase == "done") return std::max(opts_.long_phase_s, 4 * opts_.floor_s);
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
// members of that group that have not issued it.
std::optional<std::string> Supervisor::findStuck(int rank, double age_s) {
  const RankView& r = ranks_[static_cast<size_t>(rank)];
  for (const OpRecord& p : r.pending) {
    const double waited = p.ms / 1000.0 + age_s;
    const double limit = collectiveLimit(r.phase);
    if (waited <= limit) continue;
    std::string missing;
    auto g = groups_.find(p.group);
    if (g != groups_.end()) {
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
    outcome_.reason = concat(describeRank(rank), " waited ", fmtSeconds(waited), " in ", describeOp(p));
    return concat("autoglm-launch: ", describeRank(rank), " has waited ", fmtSeconds(waited), " in ", describeOp(p),
                  " (limit ", fmtSeconds(limit), " in phase ", r.phase, ")",
                  missing.empty() ? std::string("\n  every member issued it: the collective itself is stuck") : missing,
                  waitersFor(rank));
  }
  return std::nullopt;
}

std::optional<std::string> Supervisor::findFailure() {
  // Dead or silent ranks first: they are the cause of what the others wait for.
  for (int k = 0; k < world_; ++k) {
    const RankView& r = ranks_[static_cast<size_t>(k)];
    if (!r.hello || r.bye) continue;
    const std::string state =
        concat("\n  at its last heartbeat: step ", r.step, ", phase ", r.phase, " (for ", fmtSeconds(r.phase_ms / 1000.0), ")",
               r.last ? "; last collective " + describeOp(*r.last) +
                            (r.pending.empty() ? std::string(", completed") : std::string(", not completed"))
                      : std::string());
    if (r.closed) {
      outcome_.reason = concat(describeRank(k), " died at step ", r.step, r.error.empty() ? "" : ": " + r.error);
      return concat("autoglm-launch: ", describeRank(k), " ended without finishing (connection lost)",
                    r.error.empty() ? std::string() : "; it reported: " + r.error, state, waitersFor(k));
    }
    const double silent = secondsSince(r.last_seen);
    if (silent > opts_.floor_s) {
      outcome_.reason = concat(describeRank(k), " stopped responding at step ", r.step);
      return concat("autoglm-launch: ", describeRank(k), " stopped responding: no heartbeat for ", fmtSeconds(silent),
                    " (timeout ", fmtSeconds(opts_.floor_s), ")", state, waitersFor(k));
    }
  }
  for (int k = 0; k < world_; ++k) {
    const RankView& r = ranks_[static_cast<size_t>(k)];
    if (!r.hello || r.bye || r.closed) continue;
    if (auto stuck = findStuck(k, secondsSince(r.last_seen))) return stuck;
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

void Supervisor::tick() {
  if (auto status = child_->poll()) {
    outcome_.wait_status = *status;
    bool all_bye = true;
    for (const auto& r : ranks_) all_bye = all_bye && r.bye;
    const bool exited_ok = WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
    outcome_.config_error = WIFEXITED(*status) && WEXITSTATUS(*status) == 2;
    if (!failed_) {
      if (exited_ok && all_bye) {
        outcome_.success = true;
      } else if (auto f = findFailure()) {
        fail(*f);
      } else {
        outcome_.reason = "mpirun ended (" + describeStatus(*status) + ")";
        fail("autoglm-launch: mpirun ended (" + describeStatus(*status) + ") before every rank finished");
      }
    }
    io_.stop();
    return;
  }
  if (!failed_) {
    if (auto f = findFailure()) fail(*f);
  } else if (!killed_ && secondsSince(term_sent_) > opts_.grace_s) {
    killed_ = true;
    child_->signalGroup(SIGKILL);
    for (const auto& r : ranks_) {
      if (r.pid > 0) ::kill(r.pid, SIGKILL);  // ranks on this host, should they have left the group
    }
  }
  timer_->expires_after(std::chrono::milliseconds(100));
  timer_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) tick();
  });
}

Outcome Supervisor::supervise(ChildProcess& child) {
  child_ = &child;
  start_ = Clock::now();
  for (auto& r : ranks_) r.last_seen = start_;
  accept();
  tick();
  io_.run();
  if (!outcome_.success && outcome_.reason.empty()) outcome_.reason = "mpirun ended (" + describeStatus(outcome_.wait_status) + ")";
  return outcome_;
}

}  // namespace autoglm::launch
