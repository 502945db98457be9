// The classify route without sockets: the reply's shape, the cache in front
// of the batcher, and which failures answer at once (503) and which after
// preparation (400).

#include "launch/serve/classify_service.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <optional>

#include "tests/launch/serve/fake_engine.h"

namespace autoglm::launch::serve {
namespace {

using nlohmann::json;
using testing::FakeEngine;

TEST(ClassifyService, ResultsReplyHasOneEntryPerTextInOrder) {
  const std::vector<std::string> labels = {"neg", "pos"};
  Prediction a, b;
  a.label = 1;
  a.probabilities = {0.25f, 0.75f};
  a.exit_block = 2;
  b.label = 0;
  b.probabilities = {0.5f, 0.5f};
  b.exit_block = 1;
  const Reply r = resultsReply(labels, {a, b}, {false, true});
  EXPECT_EQ(r.status, 200u);
  const json j = json::parse(r.body);
  ASSERT_EQ(j["results"].size(), 2u);
  EXPECT_EQ(j["results"][0]["label"], "pos");
  EXPECT_DOUBLE_EQ(j["results"][0]["probability"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(j["results"][0]["probabilities"]["neg"].get<double>(), 0.25);
  EXPECT_EQ(j["results"][0]["exit_block"], 2);
  EXPECT_EQ(j["results"][0]["cached"], false);
  EXPECT_EQ(j["results"][1]["label"], "neg");
  EXPECT_EQ(j["results"][1]["cached"], true);
}

TEST(ClassifyService, PredictionsThatDoNotFitTheLabelsAreNamed) {
  Prediction p;
  p.label = 3;
  p.probabilities = {0.5f, 0.5f};
  EXPECT_EQ(checkPrediction(p, 2), std::optional<std::string>("label 3 of 2 labels"));
  p.label = 1;
  EXPECT_EQ(checkPrediction(p, 2), std::nullopt);
  EXPECT_EQ(checkPrediction(p, 3), std::optional<std::string>("2 probabilities for 3 labels"));
}

struct Harness {
  explicit Harness(size_t cache_entries, size_t capacity = 8)
      : cache(cache_entries),
        batcher(engine, options(capacity), metrics),
        service(engine, batcher, cache, metrics, io.get_executor()) {}
  static Batcher::Options options(size_t capacity) {
    Batcher::Options o;
    o.max_batch = 4;
    o.capacity = capacity;
    return o;
  }
  // Runs classify() and the io_context until the reply comes; `at_once` tells whether it came inside the call.
  Reply ask(std::vector<std::string> texts, bool* at_once = nullptr) {
    std::optional<Reply> reply;
    service.classify(std::move(texts), io.get_executor(), [&](Reply r) { reply = std::move(r); });
    if (at_once != nullptr) *at_once = reply.has_value();
    io.restart();
    auto work = boost::asio::make_work_guard(io);  // run_one() waits for the batcher's post
    while (!reply) io.run_one();
    return *reply;
  }

  FakeEngine engine;
  Metrics metrics;
  boost::asio::io_context io;  // outlives the batcher, whose completions post to it
  LruCache cache;
  Batcher batcher;
  ClassifyService service;
};

TEST(ClassifyService, CachedTextsSkipTheEngineAndAnswerAtOnce) {
  Harness h(16);
  bool at_once = true;
  const json first = json::parse(h.ask({"one two", "three"}, &at_once).body);
  EXPECT_FALSE(at_once);
  EXPECT_EQ(first["results"][0]["cached"], false);
  const size_t prepares = h.engine.prepareCalls();
  const json again = json::parse(h.ask({"three", "one two"}, &at_once).body);
  EXPECT_TRUE(at_once);
  EXPECT_EQ(again["results"][0]["cached"], true);
  EXPECT_EQ(again["results"][1]["label"], first["results"][0]["label"]);
  EXPECT_EQ(h.engine.prepareCalls(), prepares);
  EXPECT_EQ(h.engine.classifyCalls(), 1u);
  EXPECT_EQ(h.metrics.cacheHits(), 2u);
  EXPECT_EQ(h.metrics.cacheMisses(), 2u);
}

TEST(ClassifyService, PrepareErrorsNameTheTextAndFreeTheirSlots) {
  Harness h(0, 2);
  bool at_once = false;
  const Reply r = h.ask({"fine", "!!!"}, &at_once);
  EXPECT_FALSE(at_once);  // prepared on the prepare executor, answered through the connection's
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(json::parse(r.body)["error"], "texts[1]: no tokens in the text");
  EXPECT_EQ(h.batcher.depth(), 0u);
  EXPECT_EQ(h.ask({"a", "b"}).status, 200u);  // the capacity of 2 is whole again
}

TEST(ClassifyService, MoreTextsThanTheQueueHoldsIs503) {
  Harness h(0, 2);
  const Reply r = h.ask({"a", "b", "c"});
  EXPECT_EQ(r.status, 503u);
  EXPECT_NE(json::parse(r.body)["error"].get<std::string>().find("queue full"), std::string::npos);
  EXPECT_EQ(h.engine.prepareCalls(), 0u);  // refused before any work
}

TEST(ClassifyService, AFailedForwardPassIs500AndIsNotCached) {
  Harness h(16);
  const Reply r = h.ask({"boom"});
  EXPECT_EQ(r.status, 500u);
  EXPECT_NE(json::parse(r.body)["error"].get<std::string>().find("fake forward pass failed"), std::string::npos);
  EXPECT_EQ(h.cache.size(), 0u);
}

}  // namespace
}  // namespace autoglm::launch::serve
