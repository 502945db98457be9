#include "trainer/observe/trace_recorder.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <thread>

#include "core/file_io.h"
#include "tests/trainer/test_util.h"

namespace autoglm::trainer {
namespace {

comm::WorkInfo op(comm::OpType type, uint64_t seq, int64_t bytes) {
  comm::WorkInfo w;
  w.op = type;
  w.seq = seq;
  w.bytes = bytes;
  return w;
}

TEST(TraceRecorder, PhasesAndCollectivesBecomeSpansPerThread) {
  testing::TempDir d("trace");
  TraceRecorder t(3);
  ObserverFanout fan;
  fan.add(&t, &t);
  fan.onGroup(9, "dp", {0, 1});
  fan.onPhase(parallel::Phase::kForward, 0);
  fan.onPhase(parallel::Phase::kBackward, 0);
  std::thread reducer([&] {  // a bucket reduced on another thread
    fan.onIssue(9, op(comm::OpType::kAllreduce, 1, 4096));
    fan.onComplete(9, op(comm::OpType::kAllreduce, 1, 4096), true);
  });
  reducer.join();
  fan.onPhase(parallel::Phase::kOptimizer, 0);
  fan.onStepEnd(1, 0.01);
  fan.onPhase(parallel::Phase::kDone, 1);
  const std::string path = (d / "trace.json").string();
  t.writeMerged(nullptr, path);
  const nlohmann::json j = nlohmann::json::parse(*core::readFileBytes(path));
  std::vector<std::string> phases;
  int collectives = 0;
  for (const auto& e : j.at("traceEvents")) {
    EXPECT_EQ(e.at("pid"), 3);
    if (e.value("cat", "") == "phase") {
      phases.push_back(e.at("name"));
      EXPECT_EQ(e.at("tid"), 1) << "the training thread";
    }
    if (e.value("cat", "") == "collective") {
      ++collectives;
      EXPECT_EQ(e.at("name"), "ALLREDUCE");
      EXPECT_EQ(e.at("tid"), 2) << "the reducer's thread";
      EXPECT_EQ(e.at("args").at("group"), "dp");
      EXPECT_EQ(e.at("args").at("bytes"), 4096);
    }
  }
  EXPECT_EQ(phases, (std::vector<std::string>{"startup", "forward", "backward", "optimizer"}));
  EXPECT_EQ(collectives, 1);
}

TEST(TraceRecorder, KeepsAtMostMaxEventsAndSaysHowManyWereDropped) {
  TraceRecorder t(0, /*max_events=*/3);
  for (uint64_t s = 1; s <= 10; ++s) {
    t.onIssue(1, op(comm::OpType::kBarrier, s, 0));
    t.onComplete(1, op(comm::OpType::kBarrier, s, 0), true);
  }
  const std::string events = t.eventsJson();
  EXPECT_NE(events.find("dropped 7 events (max 3)"), std::string::npos) << events;
}

}  // namespace
}  // namespace autoglm::trainer
