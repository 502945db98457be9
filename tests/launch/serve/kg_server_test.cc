// POST /v1/kg/complete over loopback TCP with a fake KgEngine: answers in
// both directions, the filter, names resolved (400 naming an unknown one),
// the cache, a failing model (500, the server keeps serving), metrics, and
// the classification route absent.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "launch/serve/kg_engine.h"
#include "launch/serve/server.h"
#include "tests/launch/serve/test_client.h"

namespace autoglm::launch::serve {
namespace {

using nlohmann::json;
using testing::Response;
using testing::TestClient;
namespace http = boost::beast::http;

// Entities "e0".."e9", relations "near" and "far". Score of candidate i for
// anchor a: near: -|i - a|; far: |i - a| (so ties come in pairs). The known
// answers (filtered out) of every query are the anchor itself. A query of
// relation "far" with anchor "e9" throws; with anchor "e8" the answer repeats
// an id.
class FakeKgEngine final : public KgEngine {
 public:
  int64_t numEntities() const override { return 10; }
  int64_t numRelations() const override { return 2; }
  std::optional<int64_t> entityId(const std::string& name) const override {
    if (name.size() == 2 && name[0] == 'e' && name[1] >= '0' && name[1] <= '9') return name[1] - '0';
    return std::nullopt;
  }
  std::optional<int64_t> relationId(const std::string& name) const override {
    if (name == "near") return 0;
    if (name == "far") return 1;
    return std::nullopt;
  }
  std::string entityName(int64_t id) const override { return "e" + std::to_string(id); }
  std::string relationName(int64_t id) const override { return id == 0 ? "near" : "far"; }
  std::vector<KgAnswer> complete(const std::vector<const KgQuery*>& batch) override {
    calls.fetch_add(1);
    std::vector<KgAnswer> out;
    for (const KgQuery* q : batch) {
      if (q->relation == 1 && q->anchor == 9) throw Error("the fake model fails on (e9, far)");
      std::vector<int64_t> ids;
      for (int64_t i = 0; i < 10; ++i) {
        if (!q->filter || i != q->anchor) ids.push_back(i);
      }
      const auto score = [q](int64_t i) {
        const auto d = static_cast<float>(std::abs(i - q->anchor));
        return q->relation == 0 ? -d : d;
      };
      std::stable_sort(ids.begin(), ids.end(), [&](int64_t a, int64_t b) { return score(a) > score(b); });
      ids.resize(static_cast<size_t>(std::min<int64_t>(q->k, static_cast<int64_t>(ids.size()))));
      KgAnswer a;
      for (const int64_t i : ids) a.scores.push_back(score(i));
      a.ids = ids;
      if (q->relation == 1 && q->anchor == 8 && a.ids.size() > 1) a.ids[1] = a.ids[0];
      out.push_back(std::move(a));
    }
    return out;
  }
  std::atomic<int> calls{0};
};

struct RunningKgServer {
  explicit RunningKgServer(trainer::ServeConfig config) : server(config, engine) {
    port = server.listen();
    thread = std::thread([this] { server.run(); });
  }
  ~RunningKgServer() {
    server.stop();
    if (thread.joinable()) thread.join();
  }
  FakeKgEngine engine;
  Server server;
  uint16_t port = 0;
  std::thread thread;
};

trainer::ServeConfig kgConfig() {
  trainer::ServeConfig c = testing::testConfig();
  c.cache_entries = 16;
  return c;
}

Response complete(uint16_t port, const json& body) {
  return TestClient(port).request(http::verb::post, "/v1/kg/complete", body.dump());
}

std::vector<std::string> names(const json& body) {
  std::vector<std::string> out;
  for (const auto& e : body.at("entities")) out.push_back(e.at("entity").get<std::string>());
  return out;
}

TEST(KgServer, AnswersBothDirectionsBestFirstLowerIdOnTies) {
  RunningKgServer s(kgConfig());
  const Response tail = complete(s.port, {{"head", "e4"}, {"relation", "near"}, {"k", 3}});
  ASSERT_EQ(tail.result_int(), 200) << tail.body();
  const json t = json::parse(tail.body());
  EXPECT_EQ(names(t), (std::vector<std::string>{"e3", "e5", "e2"}));
  EXPECT_EQ(t["entities"][0]["id"], 3);
  EXPECT_EQ(t["entities"][0]["score"], -1.0);
  EXPECT_EQ(t["query"], (json{{"head", "e4"}, {"relation", "near"}, {"k", 3}, {"filter", true}}));
  EXPECT_EQ(t["filtered"], true);
  EXPECT_EQ(t["cached"], false);

  const Response head = complete(s.port, {{"tail", "e0"}, {"relation", "far"}, {"k", 2}, {"filter", false}});
  ASSERT_EQ(head.result_int(), 200) << head.body();
  const json h = json::parse(head.body());
  EXPECT_EQ(names(h), (std::vector<std::string>{"e9", "e8"}));
  EXPECT_EQ(h["query"]["tail"], "e0");
  EXPECT_EQ(h["filtered"], false);
}

TEST(KgServer, FilterRemovesKnownAnswers) {
  RunningKgServer s(kgConfig());
  const json on = json::parse(complete(s.port, {{"head", "e4"}, {"relation", "near"}, {"k", 1}}).body());
  const json off = json::parse(complete(s.port, {{"head", "e4"}, {"relation", "near"}, {"k", 1}, {"filter", false}}).body());
  EXPECT_EQ(names(on), std::vector<std::string>{"e3"});
  EXPECT_EQ(names(off), std::vector<std::string>{"e4"});
}

TEST(KgServer, UnknownNamesAreNamed) {
  RunningKgServer s(kgConfig());
  const Response e = complete(s.port, {{"head", "nowhere"}, {"relation", "near"}});
  EXPECT_EQ(e.result_int(), 400);
  EXPECT_EQ(json::parse(e.body())["error"], "head: unknown entity \"nowhere\" (not among the graph's 10 entities)");
  const Response r = complete(s.port, {{"tail", "e1"}, {"relation", "beside"}});
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_EQ(json::parse(r.body())["error"], "relation: unknown relation \"beside\" (not among the graph's 2 relations)");
  const Response k = complete(s.port, {{"tail", "e1"}, {"relation", "near"}, {"k", 0}});
  EXPECT_EQ(k.result_int(), 400);
  EXPECT_EQ(s.engine.calls.load(), 0);
}

TEST(KgServer, CachesTheNormalisedQuery) {
  RunningKgServer s(kgConfig());
  ASSERT_EQ(complete(s.port, {{"head", "e2"}, {"relation", "near"}, {"k", 2}}).result_int(), 200);
  // The same query, written otherwise (filter given, fields reordered): a hit.
  const Response again = complete(s.port, {{"k", 2}, {"filter", true}, {"relation", "near"}, {"head", "e2"}});
  EXPECT_EQ(json::parse(again.body())["cached"], true);
  EXPECT_EQ(s.engine.calls.load(), 1);
  // Another k or direction is another query.
  EXPECT_EQ(json::parse(complete(s.port, {{"head", "e2"}, {"relation", "near"}, {"k", 3}}).body())["cached"], false);
  EXPECT_EQ(json::parse(complete(s.port, {{"tail", "e2"}, {"relation", "near"}, {"k", 2}}).body())["cached"], false);
  EXPECT_EQ(s.server.metrics().cacheHits(), 1u);
  EXPECT_EQ(s.server.metrics().kgQueries(false), 3u);
  EXPECT_EQ(s.server.metrics().kgQueries(true), 1u);
}

TEST(KgServer, AFailingModelIs500AndTheServerGoesOn) {
  RunningKgServer s(kgConfig());
  const Response boom = complete(s.port, {{"head", "e9"}, {"relation", "far"}});
  EXPECT_EQ(boom.result_int(), 500);
  EXPECT_NE(json::parse(boom.body())["error"].get<std::string>().find("the fake model fails"), std::string::npos);
  const Response twice = complete(s.port, {{"head", "e8"}, {"relation", "far"}});
  EXPECT_EQ(twice.result_int(), 500);
  EXPECT_NE(json::parse(twice.body())["error"].get<std::string>().find("twice"), std::string::npos);
  EXPECT_EQ(complete(s.port, {{"head", "e1"}, {"relation", "far"}}).result_int(), 200);
}

TEST(KgServer, MetricsCountAndClassifyIsAbsent) {
  RunningKgServer s(kgConfig());
  ASSERT_EQ(complete(s.port, {{"head", "e1"}, {"relation", "near"}}).result_int(), 200);
  ASSERT_EQ(complete(s.port, {{"head", "zz"}, {"relation", "near"}}).result_int(), 400);
  TestClient client(s.port);
  EXPECT_EQ(client.classify({{"texts", {"a text"}}}).result_int(), 404);
  const Response m = client.request(http::verb::get, "/metrics");
  ASSERT_EQ(m.result_int(), 200);
  EXPECT_NE(m.body().find("autoglm_requests_total{status=\"200\"} 1"), std::string::npos) << m.body();
  EXPECT_NE(m.body().find("autoglm_requests_total{status=\"400\"} 1"), std::string::npos);
  EXPECT_NE(m.body().find("autoglm_requests_total{status=\"404\"} 1"), std::string::npos);
  EXPECT_NE(m.body().find("autoglm_kg_queries_total{side=\"tail\"} 1"), std::string::npos);
  EXPECT_NE(m.body().find("autoglm_batch_size_count 1"), std::string::npos);
}

}  // namespace
}  // namespace autoglm::launch::serve
