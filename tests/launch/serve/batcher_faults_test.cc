// faults: the batcher does not make a lone request wait for company.

#include "launch/serve/batcher.h"

#include <gtest/gtest.h>

#include "tests/launch/serve/batcher_helpers.h"

namespace autoglm::launch::serve {
namespace {

using namespace testing;  // NOLINT: the serve test helpers
using namespace std::chrono_literals;

// faults: a lone request on an idle engine used to wait out max_wait for
// company that never came (1 client: p50 3.08 ms batched against 0.60 ms
// unbatched). With a window of an hour it would now never finish.
TEST(BatcherFaults, ALoneRequestGoesWithoutWaitingTheWindow) {
  FakeEngine engine;
  Metrics metrics;
  Batcher batcher(engine, options(64, std::chrono::hours(1)), metrics);
  for (int i = 0; i < 3; ++i) {  // one client, one request after the other
    auto f = submit(batcher, {"alone " + std::to_string(i), "and its second text"});
    const Outcome o = get(f);
    EXPECT_TRUE(o.error.empty()) << o.error;
    EXPECT_EQ(o.predictions.size(), 2u);
  }
  EXPECT_EQ(engine.batchSizes(), (std::vector<size_t>{2, 2, 2}));
}

// Several requests queued while the engine was busy still wait for company,
// up to max_wait: the window is for concurrent clients.
TEST(BatcherFaults, SeveralQueuedRequestsStillWaitForCompany) {
  FakeEngine engine;
  Metrics metrics;
  engine.hold();
  Batcher batcher(engine, options(4, 10s), metrics);
  auto first = submit(batcher, {"first"});
  ASSERT_TRUE(engine.waitForCalls(1));
  auto a = submit(batcher, {"a"});
  auto b = submit(batcher, {"b"});
  engine.release();
  EXPECT_TRUE(get(first).error.empty());
  EXPECT_EQ(a.wait_for(200ms), std::future_status::timeout) << "two queued requests did not wait for company";
  auto c = submit(batcher, {"c", "d"});  // fills the batch of 4: it goes at once
  EXPECT_EQ(get(a).predictions.size(), 1u);
  EXPECT_EQ(get(b).predictions.size(), 1u);
  EXPECT_EQ(get(c).predictions.size(), 2u);
  EXPECT_EQ(engine.batchSizes(), (std::vector<size_t>{1, 4}));
}

}  // namespace
}  // namespace autoglm::launch::serve
