// The batcher against the fake engine: inputs of several requests share a
// forward pass, no pass exceeds max_batch, a request split over passes gets
// its predictions in order, the capacity refuses what does not fit, and a
// failing pass fails exactly the requests that had inputs in it.

#include "launch/serve/batcher.h"

#include <gtest/gtest.h>

#include <future>
#include <numeric>

#include "tests/launch/serve/batcher_helpers.h"

namespace autoglm::launch::serve {
namespace {

using namespace testing;  // NOLINT: the serve test helpers
using namespace std::chrono_literals;

TEST(Batcher, RequestsQueuedTogetherShareAForwardPass) {
  FakeEngine engine;
  Metrics metrics;
  engine.hold();
  Batcher batcher(engine, options(8, 10s), metrics);
  auto first = submit(batcher, {"first"});  // alone: goes at once and occupies the engine
  ASSERT_TRUE(engine.waitForCalls(1));
  std::vector<std::future<Outcome>> futures;
  for (int i = 0; i < 8; ++i) futures.push_back(submit(batcher, {"text " + std::to_string(i)}));
  engine.release();
  EXPECT_TRUE(get(first).error.empty());
  for (int i = 0; i < 8; ++i) {
    const Outcome o = get(futures[i]);
    ASSERT_EQ(o.predictions.size(), 1u);
    EXPECT_EQ(o.predictions[0].label, engine.expected("text " + std::to_string(i)).label);
  }
  // Eight inputs reach max_batch, so the pass does not wait out max_wait.
  EXPECT_EQ(engine.batchSizes(), (std::vector<size_t>{1, 8}));
  EXPECT_EQ(metrics.batchSizes().count(), 2u);
  EXPECT_EQ(metrics.queueDepth(), 0);
}

TEST(Batcher, ARequestSplitOverPassesKeepsItsOrder) {
  FakeEngine engine;
  Metrics metrics;
  engine.hold();
  Batcher batcher(engine, options(4, 0us), metrics);
  auto first = submit(batcher, {"x"});  // occupies the engine while the next request queues whole
  ASSERT_TRUE(engine.waitForCalls(1));
  std::vector<std::string> texts;
  for (int i = 0; i < 10; ++i) texts.push_back(std::string(static_cast<size_t>(i + 1), 'a') + (i % 2 ? " b" : ""));
  auto second = submit(batcher, texts);
  EXPECT_EQ(batcher.depth(), 10u);
  engine.release();
  EXPECT_TRUE(get(first).error.empty());
  const Outcome o = get(second);
  ASSERT_EQ(o.predictions.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    const Prediction want = engine.expected(texts[i]);
    EXPECT_EQ(o.predictions[i].label, want.label) << i;
    EXPECT_EQ(o.predictions[i].exit_block, want.exit_block) << i;
  }
  EXPECT_EQ(engine.batchSizes(), (std::vector<size_t>{1, 4, 4, 2}));
}

TEST(Batcher, MaxBatchOneSendsEveryInputAlone) {
  FakeEngine engine;
  Metrics metrics;
  Batcher batcher(engine, options(1, 5s), metrics);
  auto a = submit(batcher, {"a", "bb", "ccc"});
  auto b = submit(batcher, {"dddd"});
  EXPECT_EQ(get(a).predictions.size(), 3u);
  EXPECT_EQ(get(b).predictions.size(), 1u);
  EXPECT_EQ(engine.batchSizes(), (std::vector<size_t>{1, 1, 1, 1}));
}

TEST(Batcher, CapacityCountsReservedAndQueuedTexts) {
  FakeEngine engine;
  Metrics metrics;
  engine.hold();
  Batcher batcher(engine, options(1, 0us, 3), metrics);
  auto running = submit(batcher, {"in the engine"});
  ASSERT_TRUE(engine.waitForCalls(1));
  auto r1 = batcher.reserve(2);
  ASSERT_TRUE(r1);
  EXPECT_EQ(metrics.queueDepth(), 2);
  EXPECT_FALSE(batcher.reserve(2));  // 2 + 2 > 3
  {
    auto r2 = batcher.reserve(1);
    ASSERT_TRUE(r2);
    EXPECT_EQ(batcher.depth(), 3u);
  }  // dropped: its slot comes back
  EXPECT_EQ(batcher.depth(), 2u);
  EXPECT_FALSE(batcher.reserve(4));  // more than the whole capacity never fits
  r1.reset();
  EXPECT_EQ(batcher.depth(), 0u);
  engine.release();
  EXPECT_TRUE(get(running).error.empty());
}

TEST(Batcher, AFailingPassFailsOnlyItsRequests) {
  FakeEngine engine;
  Metrics metrics;
  engine.hold();
  Batcher batcher(engine, options(2, 0us), metrics);
  auto first = submit(batcher, {"ok"});
  ASSERT_TRUE(engine.waitForCalls(1));
  auto doomed = submit(batcher, {"boom", "fine"});  // one pass: [boom, fine]
  auto later = submit(batcher, {"after"});          // the next pass
  engine.release();
  EXPECT_TRUE(get(first).error.empty());
  const Outcome d = get(doomed);
  EXPECT_NE(d.error.find("fake forward pass failed on 'boom'"), std::string::npos) << d.error;
  EXPECT_TRUE(d.predictions.empty());
  const Outcome l = get(later);
  EXPECT_TRUE(l.error.empty()) << l.error;
  EXPECT_EQ(l.predictions.size(), 1u);
}

TEST(Batcher, QueuedRequestsFailWhenItStops) {
  FakeEngine engine;
  Metrics metrics;
  engine.hold();
  Batcher batcher(engine, options(1, 0us), metrics);
  auto running = submit(batcher, {"running"});
  ASSERT_TRUE(engine.waitForCalls(1));
  auto queued = submit(batcher, {"queued"});
  batcher.stop();
  engine.release();  // the pass in progress finishes; the queued one is never started
  EXPECT_TRUE(get(running).error.empty());
  EXPECT_NE(get(queued).error.find("stopped"), std::string::npos);
  auto late = submit(batcher, {"late"});
  EXPECT_NE(get(late).error.find("stopping"), std::string::npos);
  EXPECT_EQ(engine.classifyCalls(), 1u);
  EXPECT_EQ(batcher.depth(), 0u);
}

TEST(Batcher, AnEmptyRequestCompletesAtOnce) {
  FakeEngine engine;
  Metrics metrics;
  Batcher batcher(engine, options(4, 0us), metrics);
  auto f = submit(batcher, {});
  EXPECT_TRUE(get(f).predictions.empty());
  EXPECT_EQ(engine.classifyCalls(), 0u);
}

}  // namespace
}  // namespace autoglm::launch::serve
