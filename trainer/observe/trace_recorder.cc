#include "trainer/observe/trace_recorder.h"

#include <ATen/Functions.h>

#include <fstream>
#include <thread>

#include "core/error.h"
#include "core/file_io.h"

namespace autoglm::trainer {
namespace {

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

TraceRecorder::TraceRecorder(int rank, size_t max_events)
    : rank_(rank), max_events_(max_events), origin_(std::chrono::steady_clock::now()) {}

int64_t TraceRecorder::nowUs() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - origin_).count();
}

void TraceRecorder::add(Event e) {
  if (events_.size() >= max_events_) {
    ++dropped_;
    return;
  }
  events_.push_back(std::move(e));
}

void TraceRecorder::onGroup(uint64_t group, const std::string& name, const std::vector<int>&) {
  std::lock_guard<std::mutex> lock(mu_);
  group_names_[group] = name;
}

uint64_t TraceRecorder::threadIdLocked() {
  const auto id = std::this_thread::get_id();
  auto it = threads_.find(id);
  if (it != threads_.end()) return it->second;
  const uint64_t n = threads_.size() + 1;  // 1: the first thread seen (the training thread)
  threads_.emplace(id, n);
  return n;
}

void TraceRecorder::onIssue(uint64_t group, const comm::WorkInfo& op) {
  const int64_t now = nowUs();
  std::lock_guard<std::mutex> lock(mu_);
  open_ops_[{group, op.seq}] = {now, threadIdLocked()};
}

void TraceRecorder::onComplete(uint64_t group, const comm::WorkInfo& op, bool ok) {
  const int64_t now = nowUs();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = open_ops_.find({group, op.seq});
  if (it == open_ops_.end()) return;
  const auto [start, tid] = it->second;
  open_ops_.erase(it);
  const std::string args = detail::concat("{\"group\":", quoted(group_names_[group]), ",\"seq\":", op.seq,
                                          ",\"bytes\":", op.bytes, ",\"ok\":", ok ? "true" : "false", "}");
  add({comm::toString(op.op), "collective", start, std::max<int64_t>(1, now - start), tid, args});
}

void TraceRecorder::onPhase(parallel::Phase phase, int64_t step) {
  const int64_t now = nowUs();
  std::lock_guard<std::mutex> lock(mu_);
  if (phase == phase_) return;
  if (now > phase_start_us_) {
    add({core::enumName(phase_), "phase", phase_start_us_, now - phase_start_us_, threadIdLocked(),
         detail::concat("{\"step\":", step_, "}")});
  }
  phase_ = phase;
  phase_start_us_ = now;
  step_ = step;
}

void TraceRecorder::onStepEnd(int64_t step, double) {
  std::lock_guard<std::mutex> lock(mu_);
  step_ = step;
}

std::string TraceRecorder::eventsJson() {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out = detail::concat("{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":", rank_,
                                   ",\"args\":{\"name\":\"rank ", rank_, "\"}}");
  for (const Event& e : events_) {
    out += detail::concat(",{\"name\":", quoted(e.name), ",\"cat\":\"", e.cat, "\",\"ph\":\"X\",\"ts\":", e.ts_us,
                          ",\"dur\":", e.dur_us, ",\"pid\":", rank_, ",\"tid\":", e.tid);
    if (!e.args.empty()) out += ",\"args\":" + e.args;
    out += "}";
  }
  if (dropped_ > 0) {
    out += detail::concat(",{\"name\":\"dropped ", dropped_, " events (max ", max_events_,
                          ")\",\"ph\":\"i\",\"s\":\"p\",\"ts\":0,\"pid\":", rank_, ",\"tid\":0}");
  }
  return out;
}

void TraceRecorder::writeMerged(comm::Communicator* world, const std::string& path) {
  const std::string mine = eventsJson();
  std::vector<std::string> all{mine};
  if (world != nullptr && world->size() > 1) {
    all = comm::allgatherStrings(*world, mine);
    if (world->rank() != 0) return;
  }
  std::string out = "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[";
  for (size_t r = 0; r < all.size(); ++r) out += (r ? "," : "") + all[r];
  out += "]}\n";
  core::writeFileDurable(path, out);
}

void ObserverFanout::add(comm::CollectiveObserver* comm, parallel::RunObserver* run) {
  if (comm != nullptr) comm_.push_back(comm);
  if (run != nullptr) run_.push_back(run);
}

void ObserverFanout::onGroup(uint64_t group, const std::string& name, const std::vector<int>& world_ranks) {
  for (auto* o : comm_) o->onGroup(group, name, world_ranks);
}
void ObserverFanout::onIssue(uint64_t group, const comm::WorkInfo& op) {
  for (auto* o : comm_) o->onIssue(group, op);
}
void ObserverFanout::onComplete(uint64_t group, const comm::WorkInfo& op, bool ok) {
  for (auto* o : comm_) o->onComplete(group, op, ok);
}
void ObserverFanout::onPhase(parallel::Phase phase, int64_t step) {
  for (auto* o : run_) o->onPhase(phase, step);
}
void ObserverFanout::onStepEnd(int64_t step, double seconds) {
  for (auto* o : run_) o->onStepEnd(step, seconds);
}

}  // namespace autoglm::trainer
