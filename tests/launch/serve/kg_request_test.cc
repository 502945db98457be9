// The body of POST /v1/kg/complete: good queries in both directions with
// their defaults, and every kind of bad one gets 400 naming the field; the
// route is served only by a server of that kind.

#include "launch/serve/kg_request.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

#include "launch/serve/request_handler.h"

namespace autoglm::launch::serve {
namespace {

namespace http = boost::beast::http;
using nlohmann::json;

std::string errorOf(const json& body, int64_t max_k = 1000) {
  const auto r = parseKgRequest(body, max_k);
  return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : std::string();
}

TEST(KgRequest, TailQueryWithDefaults) {
  const auto r = parseKgRequest(json{{"head", "paris"}, {"relation", "capital_of"}}, 1000);
  ASSERT_TRUE(std::holds_alternative<KgRequest>(r));
  const KgRequest& q = std::get<KgRequest>(r);
  EXPECT_EQ(q.anchor, "paris");
  EXPECT_EQ(q.relation, "capital_of");
  EXPECT_FALSE(q.predict_head);
  EXPECT_EQ(q.k, kDefaultK);
  EXPECT_TRUE(q.filter);
}

TEST(KgRequest, HeadQueryWithKAndFilter) {
  const auto r = parseKgRequest(json{{"tail", "france"}, {"relation", "capital_of"}, {"k", 3}, {"filter", false}}, 1000);
  ASSERT_TRUE(std::holds_alternative<KgRequest>(r));
  const KgRequest& q = std::get<KgRequest>(r);
  EXPECT_EQ(q.anchor, "france");
  EXPECT_TRUE(q.predict_head);
  EXPECT_EQ(q.k, 3);
  EXPECT_FALSE(q.filter);
}

TEST(KgRequest, KBounds) {
  EXPECT_EQ(errorOf(json{{"head", "a"}, {"relation", "r"}, {"k", 1}}), "");
  EXPECT_EQ(errorOf(json{{"head", "a"}, {"relation", "r"}, {"k", 1000}}), "");
  EXPECT_EQ(errorOf(json{{"head", "a"}, {"relation", "r"}, {"k", 0}}), "k: 0 is out of range 1..1000");
  EXPECT_EQ(errorOf(json{{"head", "a"}, {"relation", "r"}, {"k", -5}}), "k: -5 is out of range 1..1000");
  EXPECT_EQ(errorOf(json{{"head", "a"}, {"relation", "r"}, {"k", 1001}}), "k: 1001 is out of range 1..1000");
  EXPECT_EQ(errorOf(json{{"head", "a"}, {"relation", "r"}, {"k", 7}}, 5), "k: 7 is out of range 1..5");
  EXPECT_EQ(errorOf(json::parse(R"({"head": "a", "relation": "r", "k": 18446744073709551615})")),
            "k: 18446744073709551615 is out of range 1..1000");
  EXPECT_EQ(errorOf(json{{"head", "a"}, {"relation", "r"}, {"k", 2.5}}), "k: expected an integer in 1..1000, got number 2.5");
  EXPECT_EQ(errorOf(json{{"head", "a"}, {"relation", "r"}, {"k", "10"}}), "k: expected an integer in 1..1000, got string");
}

TEST(KgRequest, BadBodiesNameTheField) {
  EXPECT_NE(errorOf(json::array()).find("body: expected a JSON object"), std::string::npos);
  EXPECT_NE(errorOf(json{{"relation", "r"}}).find("missing \"head\" or \"tail\""), std::string::npos);
  EXPECT_NE(errorOf(json{{"head", "a"}, {"tail", "b"}, {"relation", "r"}}).find("both \"head\" and \"tail\""),
            std::string::npos);
  EXPECT_NE(errorOf(json{{"head", "a"}}).find("missing \"relation\""), std::string::npos);
  EXPECT_EQ(errorOf(json{{"head", 3}, {"relation", "r"}}), "head: expected a string (a name), got number");
  EXPECT_EQ(errorOf(json{{"tail", ""}, {"relation", "r"}}), "tail: empty name");
  EXPECT_EQ(errorOf(json{{"head", "a"}, {"relation", nullptr}}), "relation: expected a string (a name), got null");
  EXPECT_EQ(errorOf(json{{"head", "a"}, {"relation", "r"}, {"filter", "yes"}}), "filter: expected true or false, got string");
  EXPECT_NE(errorOf(json{{"head", "a"}, {"relation", "r"}, {"filtered", true}}).find("unknown field \"filtered\""),
            std::string::npos);
}

Request post(const std::string& target, const std::string& body) {
  Request r(http::verb::post, target, 11);
  r.set(http::field::host, "localhost");
  r.set(http::field::content_type, "application/json");
  r.body() = body;
  r.prepare_payload();
  return r;
}

json errorJson(const Handled& h) { return json::parse(h.reply.body); }

TEST(KgRequest, RoutedOnlyOnAKgServer) {
  RequestLimits kg;
  kg.api = Api::kKgCompletion;
  const Handled ok = handleRequest(post("/v1/kg/complete", R"({"head": "a", "relation": "r", "k": 2})"), kg);
  ASSERT_EQ(ok.route, Route::kKgComplete);
  EXPECT_EQ(ok.kg.anchor, "a");
  EXPECT_EQ(ok.kg.k, 2);

  const Handled classify = handleRequest(post("/v1/classify", R"({"texts": ["x"]})"), kg);
  EXPECT_EQ(classify.reply.status, 404u);
  EXPECT_NE(errorJson(classify)["error"].get<std::string>().find("POST /v1/kg/complete"), std::string::npos);

  const Handled on_classifier = handleRequest(post("/v1/kg/complete", R"({"head": "a", "relation": "r"})"), {});
  EXPECT_EQ(on_classifier.reply.status, 404u);
  EXPECT_NE(errorJson(on_classifier)["error"].get<std::string>().find("POST /v1/classify"), std::string::npos);
}

TEST(KgRequest, TransportErrorsAsForClassification) {
  RequestLimits kg;
  kg.api = Api::kKgCompletion;
  kg.max_body_bytes = 64;
  EXPECT_EQ(handleRequest(post("/v1/kg/complete", "{\"head\": "), kg).reply.status, 400u);
  EXPECT_NE(errorJson(handleRequest(post("/v1/kg/complete", "{\"head\": "), kg))["error"].get<std::string>().find(
                "malformed JSON"),
            std::string::npos);
  EXPECT_EQ(handleRequest(post("/v1/kg/complete", std::string(100, ' ')), kg).reply.status, 413u);
  Request wrong_type = post("/v1/kg/complete", "{}");
  wrong_type.set(http::field::content_type, "text/plain");
  EXPECT_EQ(handleRequest(wrong_type, kg).reply.status, 415u);
  Request get(http::verb::get, "/v1/kg/complete", 11);
  EXPECT_EQ(handleRequest(get, kg).reply.status, 405u);
  const Handled bad_utf8 = handleRequest(post("/v1/kg/complete", "{\"head\": \"\xff\", \"relation\": \"r\"}"), kg);
  EXPECT_EQ(bad_utf8.reply.status, 400u);
  EXPECT_EQ(errorJson(bad_utf8)["error"], "body: not valid UTF-8 at byte 10");
}

}  // namespace
}  // namespace autoglm::launch::serve
