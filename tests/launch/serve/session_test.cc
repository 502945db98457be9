// Connections that misbehave, over loopback TCP: each bad request gets its
// status and a JSON error naming the problem, clients that stop half-way or
// send garbage never take the server down, a stalled request is closed
// after the read timeout, and a bounded random-input test over sockets.
// After each, the server still answers a good request.

#include "launch/serve/session.h"

#include <gtest/gtest.h>

#include <boost/asio/strand.hpp>

#include <random>
#include <set>

#include "tests/launch/serve/test_client.h"

namespace autoglm::launch::serve {
namespace {

using namespace testing;  // NOLINT: the serve test helpers
using nlohmann::json;

class BadClients : public ::testing::Test {
 protected:
  BadClients() : server_(testConfig(), engine_) {}
  ~BadClients() override { EXPECT_EQ(server_.server.metrics().sessionErrors(), 0u); }

  uint16_t port() const { return server_.port; }

  void expectStillServing() {
    const Response res = TestClient(port()).classify({{"texts", {"still here"}}});
    EXPECT_EQ(res.result_int(), 200) << res.body();
  }

  // POSTs `body` to /v1/classify; expects `status` and an error containing `message`.
  void expectError(const std::string& body, unsigned status, const std::string& message,
                   const std::string& content_type = "application/json") {
    const Response res = TestClient(port()).request(http::verb::post, "/v1/classify", body, content_type);
    EXPECT_EQ(res.result_int(), static_cast<int>(status)) << body;
    EXPECT_EQ(res[http::field::content_type], "application/json");
    const json j = json::parse(res.body(), nullptr, false);
    ASSERT_TRUE(j.is_object() && j.contains("error")) << res.body();
    EXPECT_NE(j["error"].get<std::string>().find(message), std::string::npos) << res.body();
  }

  FakeEngine engine_;
  RunningServer server_;
};

TEST_F(BadClients, TruncatedJson) {
  expectError(R"({"texts": ["abc", "de)", 400, "malformed JSON");
  expectStillServing();
}

TEST_F(BadClients, WrongContentType) {
  expectError(R"({"texts": ["abc"]})", 415, "text/plain", "text/plain");
  expectError(R"({"texts": ["abc"]})", 415, "missing Content-Type", "");
  expectStillServing();
}

TEST_F(BadClients, TenMegabyteBodyIs413) {
  const std::string body = "{\"texts\": [\"" + std::string(10 << 20, 'a') + "\"]}";
  TestClient client(port());
  client.sendRaw("POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n" + body);  // may fail once the server closes: fine
  const RawResult got = client.readAll();
  const auto res = parseResponse(got.data);
  ASSERT_TRUE(res) << "no response before the connection ended: " << got.end.message();
  EXPECT_EQ(res->result_int(), 413);
  EXPECT_FALSE(res->keep_alive());
  EXPECT_NE(jsonOf(*res)["error"].get<std::string>().find("serve.max_body_bytes"), std::string::npos);
  expectStillServing();
}

TEST_F(BadClients, ExpectContinueGets100ThenTheAnswer) {
  const std::string body = R"({"texts": ["sent after 100 Continue"]})";
  TestClient client(port());
  client.sendRaw("POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
                 "Expect: 100-continue\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n");
  EXPECT_EQ(client.readUntil("\r\n\r\n"), "HTTP/1.1 100 Continue\r\n\r\n");
  client.sendRaw(body);
  const auto res = parseResponse(client.readAll().data);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result_int(), 200) << res->body();
  EXPECT_EQ(jsonOf(*res)["results"].size(), 1u);
}

TEST_F(BadClients, ExpectContinueWithABodyOverTheLimitIs413BeforeTheBody) {
  TestClient client(port());
  client.sendRaw("POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Expect: 100-continue\r\nContent-Length: 10485760\r\n\r\n");
  const auto res = parseResponse(client.readAll().data);  // the body is never sent
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result_int(), 413);
  expectStillServing();
}

TEST_F(BadClients, NonUtf8Text) {
  expectError("{\"texts\": [\"fine\", \"hello\xFFworld\"]}", 400, "texts[1]: not valid UTF-8 at byte 5");
  expectStillServing();
}

TEST_F(BadClients, WrongTypes) {
  expectError(R"({"texts": ["a", "b", 3]})", 400, "texts[2]: not a string");
  expectError(R"({"texts": "a"})", 400, "texts: expected an array of strings, got string");
  expectError(R"({"words": ["a"]})", 400, "missing \"texts\"");
  expectError(R"(["a"])", 400, "expected a JSON object");
  expectStillServing();
}

TEST_F(BadClients, EmptyTexts) {
  expectError(R"({"texts": []})", 400, "texts: empty array");
  expectError(R"({"texts": ["a", ""]})", 400, "texts[1]: empty text");
  expectError(R"({"texts": ["  \n"]})", 400, "texts[0]: only whitespace");
  expectStillServing();
}

TEST_F(BadClients, TooManyAndTooLongTexts) {
  expectError(json({{"texts", std::vector<std::string>(17, "x")}}).dump(), 400, "texts: 17 texts, at most 16");
  expectError(json({{"texts", {std::string(300, 'y')}}}).dump(), 400, "texts[0]: 300 bytes, at most 256");
  expectStillServing();
}

TEST_F(BadClients, UnknownPathAndWrongMethod) {
  TestClient client(port());
  const Response missing = client.request(http::verb::get, "/v1/unknown");
  EXPECT_EQ(missing.result_int(), 404);
  EXPECT_NE(jsonOf(missing)["error"].get<std::string>().find("/v1/unknown"), std::string::npos);
  const Response wrong = client.request(http::verb::get, "/v1/classify");
  EXPECT_EQ(wrong.result_int(), 405);
  EXPECT_EQ(wrong[http::field::allow], "POST");
  EXPECT_EQ(client.request(http::verb::delete_, "/metrics").result_int(), 405);
  expectStillServing();
}

TEST_F(BadClients, HalfARequestThenClose) {
  for (int cut : {5, 40, 80}) {
    TestClient client(port());
    const std::string full = "POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             "Content-Length: 30\r\n\r\n{\"texts\": [\"abc\"]}";
    client.sendRaw(full.substr(0, static_cast<size_t>(cut)));
    client.close();
  }
  expectStillServing();
}

TEST_F(BadClients, AStalledHalfRequestBlocksNoOne) {
  TestClient staller(port());
  staller.sendRaw("POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"te");
  for (int i = 0; i < 3; ++i) expectStillServing();
  EXPECT_EQ(TestClient(port()).request(http::verb::get, "/healthz").result_int(), 200);
  staller.close();
}

TEST_F(BadClients, GarbageBytesGet400AndTheConnectionClosed) {
  TestClient client(port());
  client.sendRaw(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n", 31));
  client.shutdownSend();
  const RawResult got = client.readAll();
  const auto res = parseResponse(got.data);
  ASSERT_TRUE(res) << "no response: " << got.end.message();
  EXPECT_EQ(res->result_int(), 400);
  EXPECT_NE(jsonOf(*res)["error"].get<std::string>().find("malformed HTTP request"), std::string::npos);
  EXPECT_EQ(got.end, asio::error::eof);
  expectStillServing();
}

// --- bounded random input over sockets ----------------------------------------

std::string mutateBytes(std::mt19937& rng, std::string s) {
  std::uniform_int_distribution<int> byte(0, 255), op(0, 3), edits(1, 3);
  for (int n = edits(rng); n > 0 && !s.empty(); --n) {
    const size_t pos = std::uniform_int_distribution<size_t>(0, s.size() - 1)(rng);
    switch (op(rng)) {
      case 0: s[pos] = static_cast<char>(byte(rng)); break;
      case 1: s.insert(pos, 1, "\r\n:{}\"\\ \xFF"[byte(rng) % 9]); break;
      case 2: s.erase(pos, 1); break;
      default: s.resize(pos); break;
    }
  }
  return s;
}

TEST_F(BadClients, RandomAndMutatedRequestsOverSockets) {
  const std::set<int> statuses = {200, 400, 404, 405, 413, 415, 431, 503};
  const std::vector<std::string> seeds = {
      "POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n"
      "{\"texts\": [\"a b\", \"c\\u00e9\"]}",
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /metrics HTTP/1.0\r\n\r\n",
      "POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\n{\"tex\r\n10\r\nts\": [\"chunked\"]}\r\n0\r\n\r\n",
  };
  std::mt19937 rng(99);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int i = 0; i < 300; ++i) {
    std::string bytes;
    if (i % 6 == 0) {
      bytes.resize(static_cast<size_t>(byte(rng)));
      for (char& c : bytes) c = static_cast<char>(byte(rng));
    } else {
      bytes = mutateBytes(rng, seeds[static_cast<size_t>(i) % seeds.size()]);
    }
    TestClient client(port());
    client.sendRaw(bytes);
    client.shutdownSend();
    const RawResult got = client.readAll();
    EXPECT_NE(got.end, beast::error::timeout) << "no end to the connection for: " << bytes;
    if (got.data.empty()) continue;
    const auto res = parseResponse(got.data);
    ASSERT_TRUE(res) << "not an HTTP response: " << got.data;
    EXPECT_TRUE(statuses.count(res->result_int())) << res->result_int() << " for " << bytes;
    if (res->result_int() >= 400 && res->result_int() < 500) {
      const json j = json::parse(res->body(), nullptr, false);
      EXPECT_TRUE(j.is_object() && j.contains("error") && j["error"].is_string()) << res->body();
    }
  }
  expectStillServing();
}

// --- a session on its own, with a short read timeout ---------------------------

TEST(Session, AStalledRequestIsClosedAfterTheReadTimeout) {
  FakeEngine engine;
  Metrics metrics;
  asio::io_context io;
  LruCache cache(0);
  Batcher batcher(engine, Batcher::Options{}, metrics);
  ClassifyService service(engine, batcher, cache, metrics, io.get_executor());
  std::atomic<bool> draining{false};
  bool closed = false;
  Session::Context context{RequestLimits{}, metrics, &service, draining,
                           [&closed](const Session*) { closed = true; }, std::chrono::milliseconds(200)};
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  acceptor.async_accept(asio::make_strand(io), [&](beast::error_code ec, asio::ip::tcp::socket socket) {
    if (!ec) std::make_shared<Session>(std::move(socket), context)->start();
  });
  std::thread runner([&] { io.run(); });  // returns when the session is gone

  TestClient client(acceptor.local_endpoint().port());
  client.sendRaw("POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"te");
  const RawResult got = client.readAll();  // the client's own limit is far longer than the server's
  EXPECT_TRUE(got.data.empty());
  EXPECT_EQ(got.end, asio::error::eof) << got.end.message();
  runner.join();
  EXPECT_TRUE(closed);
  EXPECT_EQ(metrics.sessionErrors(), 0u);
}

}  // namespace
}  // namespace autoglm::launch::serve
