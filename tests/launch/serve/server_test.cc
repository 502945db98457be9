// The server over loopback TCP with the fake engine: answers, keep-alive,
// health and metrics, batching (from the engine's recorded batch sizes),
// the bounded queue, the cache, failures of the model, and the drain.

#include "launch/serve/server.h"

#include <gtest/gtest.h>

#include <csignal>
#include <future>
#include <numeric>

#include "tests/launch/serve/test_client.h"

namespace autoglm::launch::serve {
namespace {

using namespace testing;  // NOLINT: the serve test helpers
using namespace std::chrono_literals;
using nlohmann::json;

// The value of the sample `series` ("name" or "name{labels}") in a metrics text; 0 if absent.
double sample(const std::string& text, const std::string& series) {
  const std::string key = "\n" + series + " ";
  const size_t at = ("\n" + text).find(key);
  if (at == std::string::npos) return 0;
  return std::stod(text.substr(at + key.size() - 1));
}

void expectResult(const json& result, const FakeEngine& engine, const std::string& text, bool cached) {
  const Prediction want = engine.expected(text);
  EXPECT_EQ(result["label"], engine.labels()[static_cast<size_t>(want.label)]) << text;
  EXPECT_NEAR(result["probability"].get<double>(), 0.7, 1e-6) << text;
  ASSERT_EQ(result["probabilities"].size(), engine.labels().size());
  for (const auto& label : engine.labels()) EXPECT_TRUE(result["probabilities"].contains(label));
  EXPECT_EQ(result["exit_block"], want.exit_block) << text;
  EXPECT_EQ(result["cached"], cached) << text;
}

TEST(Server, ClassifiesOneText) {
  FakeEngine engine;
  RunningServer s(testConfig(), engine);
  TestClient client(s.port);
  const Response res = client.classify({{"texts", {"hello world"}}});
  ASSERT_EQ(res.result_int(), 200) << res.body();
  EXPECT_EQ(res[http::field::content_type], "application/json");
  const json j = jsonOf(res);
  ASSERT_EQ(j["results"].size(), 1u);
  expectResult(j["results"][0], engine, "hello world", false);
}

TEST(Server, ClassifiesManyTextsInInputOrder) {
  FakeEngine engine;
  RunningServer s(testConfig(), engine);
  const std::vector<std::string> texts = {"a", "bb", "ccc dd", "dddd", "e e e", "f"};
  const Response res = TestClient(s.port).classify({{"texts", texts}});
  ASSERT_EQ(res.result_int(), 200) << res.body();
  const json j = jsonOf(res);
  ASSERT_EQ(j["results"].size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) expectResult(j["results"][i], engine, texts[i], false);
}

TEST(Server, KeepAliveServesSeveralRequestsOnOneConnection) {
  FakeEngine engine;
  RunningServer s(testConfig(), engine);
  TestClient client(s.port);
  for (int i = 0; i < 4; ++i) {
    const std::string text = "request " + std::to_string(i);
    const Response res = client.classify({{"texts", {text}}});
    ASSERT_EQ(res.result_int(), 200);
    EXPECT_TRUE(res.keep_alive());
    expectResult(jsonOf(res)["results"][0], engine, text, false);
    const Response health = client.request(http::verb::get, "/healthz");
    EXPECT_EQ(health.result_int(), 200);
    EXPECT_TRUE(health.keep_alive());
  }
  EXPECT_EQ(s.server.metrics().requests(200), 8u);
}

TEST(Server, HealthzSaysOk) {
  FakeEngine engine;
  RunningServer s(testConfig(), engine);
  const Response res = TestClient(s.port).request(http::verb::get, "/healthz", "", "");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(jsonOf(res), json({{"status", "ok"}}));
}

TEST(Server, MetricsCountTheRequestsSent) {
  FakeEngine engine;
  RunningServer s(testConfig(), engine);
  TestClient client(s.port);
  const Response before = client.request(http::verb::get, "/metrics", "", "");
  ASSERT_EQ(before.result_int(), 200);
  EXPECT_EQ(before[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(client.classify({{"texts", {"one", "two"}}}).result_int(), 200);
  EXPECT_EQ(client.classify({{"texts", {"three"}}}).result_int(), 200);
  EXPECT_EQ(client.classify({{"texts", {1}}}).result_int(), 400);
  EXPECT_EQ(client.request(http::verb::get, "/nowhere").result_int(), 404);
  const std::string a = before.body();
  const std::string b = client.request(http::verb::get, "/metrics", "", "").body();
  // The first GET /metrics is counted after it rendered.
  EXPECT_EQ(sample(b, "autoglm_requests_total{status=\"200\"}") - sample(a, "autoglm_requests_total{status=\"200\"}"), 3);
  EXPECT_EQ(sample(b, "autoglm_requests_total{status=\"400\"}"), 1);
  EXPECT_EQ(sample(b, "autoglm_requests_total{status=\"404\"}"), 1);
  EXPECT_EQ(sample(b, "autoglm_request_duration_seconds_count") - sample(a, "autoglm_request_duration_seconds_count"), 5);
  EXPECT_EQ(sample(b, "autoglm_texts_total"), 3);
  EXPECT_EQ(sample(b, "autoglm_cache_misses_total"), 3);
  EXPECT_EQ(sample(b, "autoglm_batch_size_sum"), 3);
  EXPECT_EQ(sample(b, "autoglm_batch_size_count"), static_cast<double>(engine.classifyCalls()));
  EXPECT_EQ(sample(b, "autoglm_queue_depth"), 0);
  EXPECT_NE(b.find("# TYPE autoglm_request_duration_seconds histogram\n"), std::string::npos);
  EXPECT_NE(b.find("autoglm_request_duration_seconds_bucket{le=\"0.0005\"}"), std::string::npos);
}

// `n` requests at once, request i holding texts[i]; the responses in order.
std::vector<Response> concurrently(uint16_t port, const std::vector<std::vector<std::string>>& texts) {
  std::vector<std::future<Response>> futures;
  for (const auto& t : texts) {
    futures.push_back(std::async(std::launch::async, [port, t] { return TestClient(port).classify({{"texts", t}}); }));
  }
  std::vector<Response> out;
  for (auto& f : futures) out.push_back(f.get());
  return out;
}

TEST(Server, ConcurrentRequestsShareForwardPasses) {
  FakeEngine engine;
  engine.hold();
  auto config = testConfig();
  config.max_batch = 8;
  config.max_wait_ms = 10000;  // a pass goes as soon as 8 texts wait
  RunningServer s(config, engine);
  // A lone request goes at once; the eight that come while it holds the engine share a pass.
  auto first = std::async(std::launch::async, [&] { return TestClient(s.port).classify({{"texts", {"first"}}}); });
  ASSERT_TRUE(engine.waitForCalls(1));
  std::vector<std::vector<std::string>> texts;
  for (int i = 0; i < 8; ++i) texts.push_back({"text number " + std::to_string(i)});
  auto rest = std::async(std::launch::async, [&] { return concurrently(s.port, texts); });
  ASSERT_TRUE(eventually([&] { return s.server.metrics().queueDepth() == 8; }));
  engine.release();
  EXPECT_EQ(first.get().result_int(), 200);
  const auto responses = rest.get();
  for (size_t i = 0; i < responses.size(); ++i) {
    ASSERT_EQ(responses[i].result_int(), 200) << responses[i].body();
    expectResult(jsonOf(responses[i])["results"][0], engine, texts[i][0], false);
  }
  EXPECT_EQ(engine.batchSizes(), (std::vector<size_t>{1, 8}));
}

TEST(Server, MaxBatchOneClassifiesEveryTextAlone) {
  FakeEngine engine;
  auto config = testConfig();
  config.max_batch = 1;
  config.max_wait_ms = 10000;  // irrelevant: a batch of one is always full
  RunningServer s(config, engine);
  const auto responses = concurrently(s.port, {{"a"}, {"b c", "d", "e f g"}, {"h"}, {"i", "j"}});
  for (const auto& r : responses) EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(engine.batchSizes(), std::vector<size_t>(7, 1));
}

TEST(Server, FullQueueIs503) {
  FakeEngine engine;
  engine.hold();
  auto config = testConfig();
  config.max_batch = 1;
  config.queue_capacity = 2;
  RunningServer s(config, engine);
  auto first = std::async(std::launch::async, [&] { return TestClient(s.port).classify({{"texts", {"first"}}}); });
  ASSERT_TRUE(engine.waitForCalls(1));  // "first" is in the engine, out of the queue
  auto second = std::async(std::launch::async,
                           [&] { return TestClient(s.port).classify({{"texts", {"second", "third"}}}); });
  ASSERT_TRUE(eventually([&] { return s.server.metrics().queueDepth() == 2; }));
  const Response full = TestClient(s.port).classify({{"texts", {"fourth"}}});
  EXPECT_EQ(full.result_int(), 503);
  EXPECT_NE(jsonOf(full)["error"].get<std::string>().find("queue full"), std::string::npos) << full.body();
  engine.release();
  EXPECT_EQ(first.get().result_int(), 200);
  EXPECT_EQ(second.get().result_int(), 200);
  EXPECT_EQ(TestClient(s.port).classify({{"texts", {"fourth"}}}).result_int(), 200);
}

TEST(Server, CachedTextsAreMarkedAndSkipTheEngine) {
  FakeEngine engine;
  auto config = testConfig();
  config.cache_entries = 16;
  RunningServer s(config, engine);
  TestClient client(s.port);
  expectResult(jsonOf(client.classify({{"texts", {"hello there"}}}))["results"][0], engine, "hello there", false);
  const size_t calls = engine.classifyCalls();
  const size_t prepares = engine.prepareCalls();
  expectResult(jsonOf(client.classify({{"texts", {"hello there"}}}))["results"][0], engine, "hello there", true);
  EXPECT_EQ(engine.classifyCalls(), calls);
  EXPECT_EQ(engine.prepareCalls(), prepares);
  const json mixed = jsonOf(client.classify({{"texts", {"hello there", "something new"}}}));
  expectResult(mixed["results"][0], engine, "hello there", true);
  expectResult(mixed["results"][1], engine, "something new", false);
  EXPECT_EQ(engine.prepareCalls(), prepares + 1);
  EXPECT_EQ(s.server.metrics().cacheHits(), 2u);
}

TEST(Server, InputErrorFromPrepareIs400NamingTheText) {
  FakeEngine engine;
  RunningServer s(testConfig(), engine);
  TestClient client(s.port);
  const Response res = client.classify({{"texts", {"fine", "!!!"}}});
  EXPECT_EQ(res.result_int(), 400);
  EXPECT_EQ(jsonOf(res)["error"], "texts[1]: no tokens in the text");
  EXPECT_EQ(client.classify({{"texts", {"fine"}}}).result_int(), 200);
}

TEST(Server, FailingForwardPassIs500AndTheServerKeepsServing) {
  FakeEngine engine;
  RunningServer s(testConfig(), engine);
  TestClient client(s.port);
  const Response res = client.classify({{"texts", {"boom"}}});
  EXPECT_EQ(res.result_int(), 500);
  EXPECT_NE(jsonOf(res)["error"].get<std::string>().find("fake forward pass failed on 'boom'"), std::string::npos);
  EXPECT_EQ(client.classify({{"texts", {"fine"}}}).result_int(), 200);  // same connection
}

TEST(Server, AnExceptionInAConnectionIsCountedAndTheServerKeepsServing) {
  FakeEngine engine;
  RunningServer s(testConfig(), engine);
  TestClient bad(s.port);
  const Response res = bad.classify({{"texts", {"throw-int"}}});  // thrown on the prepare pool
  EXPECT_EQ(res.result_int(), 500);
  EXPECT_NE(jsonOf(res)["error"].get<std::string>().find("non-standard exception"), std::string::npos) << res.body();
  EXPECT_EQ(s.server.metrics().sessionErrors(), 1u);
  EXPECT_EQ(TestClient(s.port).classify({{"texts", {"fine"}}}).result_int(), 200);
}

TEST(Server, StopAnswersTheRequestInFlightThenRefusesAndReturns) {
  FakeEngine engine;
  engine.hold();
  auto config = testConfig();
  config.max_batch = 1;
  Server server(config, engine);
  const uint16_t port = server.listen();
  auto ran = std::async(std::launch::async, [&] { server.run(); });

  TestClient idle(port);
  ASSERT_EQ(idle.request(http::verb::get, "/healthz").result_int(), 200);  // now an idle keep-alive connection
  auto in_flight = std::async(std::launch::async, [&] { return TestClient(port).classify({{"texts", {"in flight"}}}); });
  ASSERT_TRUE(engine.waitForCalls(1));

  server.stop();
  EXPECT_TRUE(eventually([&] { return !TestClient::canConnect(port); })) << "still accepting after stop()";
  const RawResult idle_end = idle.readAll();
  EXPECT_TRUE(idle_end.data.empty());
  EXPECT_EQ(idle_end.end, asio::error::eof) << idle_end.end.message();
  EXPECT_NE(ran.wait_for(0s), std::future_status::ready) << "run() returned with a request in flight";

  engine.release();
  const Response res = in_flight.get();
  EXPECT_EQ(res.result_int(), 200) << res.body();
  EXPECT_FALSE(res.keep_alive());
  expectResult(jsonOf(res)["results"][0], engine, "in flight", false);
  ASSERT_EQ(ran.wait_for(20s), std::future_status::ready) << "run() did not return after the drain";
  EXPECT_TRUE(server.draining());
  EXPECT_FALSE(TestClient::canConnect(port));
}

TEST(Server, StopBeforeRunMakesRunReturn) {
  FakeEngine engine;
  Server server(testConfig(), engine);
  const uint16_t port = server.listen();
  server.stop();
  auto ran = std::async(std::launch::async, [&] { server.run(); });
  ASSERT_EQ(ran.wait_for(20s), std::future_status::ready);
  EXPECT_FALSE(TestClient::canConnect(port));
}

TEST(Server, SigtermStartsTheDrain) {
  FakeEngine engine;
  Server server(testConfig(), engine);
  const uint16_t port = server.listen();
  server.stopOnSignals();
  auto ran = std::async(std::launch::async, [&] { server.run(); });
  ASSERT_EQ(TestClient(port).request(http::verb::get, "/healthz").result_int(), 200);
  std::raise(SIGTERM);
  ASSERT_EQ(ran.wait_for(20s), std::future_status::ready);
  EXPECT_TRUE(server.draining());
}

TEST(Server, ListenOnAPortInUseNamesHostAndPort) {
  FakeEngine engine;
  Server first(testConfig(), engine);
  auto config = testConfig();
  config.port = first.listen();
  Server second(config, engine);
  try {
    second.listen();
    FAIL() << "a second server listened on port " << config.port;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(config.port)), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("in use"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace autoglm::launch::serve
