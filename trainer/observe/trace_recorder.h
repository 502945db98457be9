#pragma once
// run.trace: a Chrome trace of the run (the JSON that Perfetto and
// chrome://tracing open). One process per rank, one track per thread:
//   - the training thread's phases (forward, backward, reduce, optimizer,
//     checkpoint, eval) as spans;
//   - every collective from issue to completion, on the thread that issued it
//     (the gradient reducer's thread for the bucket reductions, the training
//     thread for the rest): the waits in collectives.
// Each rank records in memory (at most max_events); writeMerged() gathers the
// ranks' events to rank 0 over the world communicator, which writes one file.

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "comm/communicator.h"
#include "comm/observer.h"
#include "parallel/run_observer.h"

namespace autoglm::trainer {

class TraceRecorder final : public comm::CollectiveObserver, public parallel::RunObserver {
 public:
  explicit TraceRecorder(int rank, size_t max_events = 2'000'000);

  void onGroup(uint64_t group, const std::string& name, const std::vector<int>& world_ranks) override;
  void onIssue(uint64_t group, const comm::WorkInfo& op) override;
  void onComplete(uint64_t group, const comm::WorkInfo& op, bool ok) override;
  void onPhase(parallel::Phase phase, int64_t step) override;
  void onStepEnd(int64_t step, double seconds) override;

  // This rank's events as a JSON array (no brackets: elements joined by ",").
  std::string eventsJson();
  // Rank 0 writes every rank's events to `path` (world: null on one process).
  // Collective over `world`.
  void writeMerged(comm::Communicator* world, const std::string& path);

 private:
  struct Event {
    std::string name, cat;
    int64_t ts_us, dur_us;
    uint64_t tid;
    std::string args;  // JSON object text, or empty
  };
  int64_t nowUs() const;
  void add(Event e);              // under mu_
  uint64_t threadIdLocked();      // small numbers, in the order threads are first seen

  int rank_;
  size_t max_events_;
  std::chrono::steady_clock::time_point origin_;
  std::mutex mu_;
  std::vector<Event> events_;
  size_t dropped_ = 0;
  std::map<uint64_t, std::string> group_names_;
  std::map<std::thread::id, uint64_t> threads_;
  std::map<std::pair<uint64_t, uint64_t>, std::pair<int64_t, uint64_t>> open_ops_;  // (group, seq) -> (ts, tid)
  parallel::Phase phase_ = parallel::Phase::kStartup;
  int64_t phase_start_us_ = 0;
  int64_t step_ = 0;
};

// Passes every notification on to several observers (the supervisor client and
// the trace recorder together). Null entries are skipped.
class ObserverFanout final : public comm::CollectiveObserver, public parallel::RunObserver {
 public:
  void add(comm::CollectiveObserver* comm, parallel::RunObserver* run);

  void onGroup(uint64_t group, const std::string& name, const std::vector<int>& world_ranks) override;
  void onIssue(uint64_t group, const comm::WorkInfo& op) override;
  void onComplete(uint64_t group, const comm::WorkInfo& op, bool ok) override;
  void onPhase(parallel::Phase phase, int64_t step) override;
  void onStepEnd(int64_t step, double seconds) override;

 private:
  std::vector<comm::CollectiveObserver*> comm_;
  std::vector<parallel::RunObserver*> run_;
};

}  // namespace autoglm::trainer
