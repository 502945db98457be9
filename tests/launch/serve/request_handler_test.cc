// The pure request handling: every kind of bad request gets its status and a
// JSON error naming the problem, good ones give their texts in order, raw
// bytes go through the same parser limits the sessions use, and a bounded
// random-input test never sees a throw or an answer outside the contract.

#include "launch/serve/request_handler.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "launch/serve/utf8.h"

namespace autoglm::launch::serve {
namespace {

namespace http = boost::beast::http;
using nlohmann::json;

RequestLimits limits() {
  RequestLimits l;
  l.max_body_bytes = 4096;
  l.max_texts = 4;
  l.max_text_bytes = 32;
  return l;
}

Request make(http::verb method, const std::string& target, const std::string& body,
             const std::string& content_type = "application/json") {
  Request r(method, target, 11);
  r.set(http::field::host, "localhost");
  if (!content_type.empty()) r.set(http::field::content_type, content_type);
  r.body() = body;
  r.prepare_payload();
  return r;
}

Handled post(const std::string& body, const std::string& content_type = "application/json") {
  return handleRequest(make(http::verb::post, "/v1/classify", body, content_type), limits());
}

// The "error" message of a reply, failing the test if the body is not {"error": "..."}.
std::string errorOf(const Handled& h) {
  EXPECT_EQ(h.route, Route::kReply);
  EXPECT_EQ(h.reply.content_type, "application/json");
  const json j = json::parse(h.reply.body);
  EXPECT_TRUE(j.contains("error") && j["error"].is_string()) << h.reply.body;
  return j.value("error", "");
}

TEST(RequestHandler, ValidRequestGivesItsTextsInOrder) {
  const Handled h = post(R"({"texts": ["first one", "caf\u00e9", "third"], "extra": 1})");
  ASSERT_EQ(h.route, Route::kClassify) << h.reply.body;
  EXPECT_EQ(h.texts, (std::vector<std::string>{"first one", "caf\xC3\xA9", "third"}));
}

TEST(RequestHandler, ContentTypeMayCarryAUtf8Charset) {
  for (const char* ct : {"application/json; charset=utf-8", "Application/JSON;charset=\"UTF-8\"",
                               " application/json ", "application/json; foo=bar"}) {
    EXPECT_EQ(post(R"({"texts": ["a"]})", ct).route, Route::kClassify) << ct;
  }
}

TEST(RequestHandler, OtherContentTypesAre415) {
  for (const char* ct : {"text/plain", "", "application/jsonx", "application/x-www-form-urlencoded",
                               "application/json; charset=latin1"}) {
    const Handled h = post(R"({"texts": ["a"]})", ct);
    EXPECT_EQ(h.reply.status, 415u) << ct;
    EXPECT_FALSE(errorOf(h).empty());
  }
  EXPECT_NE(errorOf(post("{}", "text/plain")).find("text/plain"), std::string::npos);
  EXPECT_NE(errorOf(post("{}", "")).find("missing Content-Type"), std::string::npos);
  EXPECT_NE(errorOf(post("{}", "application/json; charset=latin1")).find("latin1"), std::string::npos);
}

struct BadBody {
  std::string body;
  std::string message;  // a part of the error message
};

TEST(RequestHandler, BadBodiesAre400NamingTheProblem) {
  const BadBody cases[] = {
      {R"({"texts": ["a")", "malformed JSON"},
      {"", "malformed JSON"},
      {R"({"texts": ["a"]} trailing)", "malformed JSON"},
      {R"({"texts": ["a"], "n": 1e999})", "malformed JSON: number overflow"},
      {R"(["a"])", "body: expected a JSON object {\"texts\": [...]}, got array"},
      {R"({})", "missing \"texts\""},
      {R"({"text": ["a"]})", "missing \"texts\""},
      {R"({"texts": "a"})", "texts: expected an array of strings, got string"},
      {R"({"texts": {"a": 1}})", "texts: expected an array of strings, got object"},
      {R"({"texts": []})", "texts: empty array"},
      {R"({"texts": ["a", "b", 3]})", "texts[2]: not a string (got number)"},
      {R"({"texts": ["a", null]})", "texts[1]: not a string (got null)"},
      {R"({"texts": [["a"]]})", "texts[0]: not a string (got array)"},
      {R"({"texts": [""]})", "texts[0]: empty text"},
      {R"({"texts": ["ok", " \t\n "]})", "texts[1]: only whitespace"},
      {R"({"texts": ["a", "b", "c", "d", "e"]})", "texts: 5 texts, at most 4 per request (serve.max_texts)"},
      {R"({"texts": ["ok", "0123456789012345678901234567890123"]})",
       "texts[1]: 34 bytes, at most 32 per text (serve.max_text_bytes)"},
  };
  for (const auto& c : cases) {
    const Handled h = post(c.body);
    EXPECT_EQ(h.reply.status, 400u) << c.body;
    EXPECT_NE(errorOf(h).find(c.message), std::string::npos) << c.body << " -> " << h.reply.body;
  }
}

TEST(RequestHandler, NonUtf8TextsAreNamedWithTheByteOffsetInTheText) {
  const BadBody cases[] = {
      {"{\"texts\": [\"hello\xFFworld\"]}", "texts[0]: not valid UTF-8 at byte 5"},
      {"{\"texts\": [\"fine\", \"ab\xC3\"]}", "texts[1]: not valid UTF-8 at byte 2"},
      // Escapes decode first: "\n" is one byte and "\u00e9" two, so the bad byte is the 5th of the text.
      {"{\"texts\": [\"\\n\\u00e9x\xFF\"]}", "texts[0]: not valid UTF-8 at byte 4"},
      // A real U+0000 before the bad byte does not confuse the search.
      {"{\"texts\": [\"a\\u0000b\", \"c\\u0000\xED\xA0\x80\"]}", "texts[1]: not valid UTF-8 at byte 2"},
      {"{\"other\": \"\xFF\", \"texts\": [\"a\"]}", "body: not valid UTF-8 at byte 11 (outside \"texts\")"},
      {"{\"texts\": [\"a\"]}\xFF", "body: not valid UTF-8 at byte 16"},
      {"{\"texts\": [\"a\\\xFF\"]}", "body: not valid UTF-8 at byte 14"},
  };
  for (const auto& c : cases) {
    const Handled h = post(c.body);
    EXPECT_EQ(h.reply.status, 400u);
    EXPECT_EQ(errorOf(h), c.message);
  }
}

TEST(RequestHandler, BodyOverTheLimitIs413) {
  const Handled h = post(R"({"texts": [")" + std::string(5000, 'a') + "\"]}");
  EXPECT_EQ(h.reply.status, 413u);
  EXPECT_NE(errorOf(h).find("serve.max_body_bytes"), std::string::npos);
}

TEST(RequestHandler, RoutesAndMethods) {
  const RequestLimits l = limits();
  EXPECT_EQ(handleRequest(make(http::verb::get, "/healthz", ""), l).route, Route::kHealth);
  EXPECT_EQ(handleRequest(make(http::verb::get, "/healthz?verbose=1", ""), l).route, Route::kHealth);
  EXPECT_EQ(handleRequest(make(http::verb::get, "/metrics", ""), l).route, Route::kMetrics);

  const Handled missing = handleRequest(make(http::verb::get, "/v2/nothing", ""), l);
  EXPECT_EQ(missing.reply.status, 404u);
  EXPECT_NE(errorOf(missing).find("/v2/nothing"), std::string::npos);

  const Handled get_classify = handleRequest(make(http::verb::get, "/v1/classify", ""), l);
  EXPECT_EQ(get_classify.reply.status, 405u);
  EXPECT_EQ(get_classify.reply.allow, "POST");
  EXPECT_NE(errorOf(get_classify).find("GET"), std::string::npos);

  const Handled post_health = handleRequest(make(http::verb::post, "/healthz", "{}"), l);
  EXPECT_EQ(post_health.reply.status, 405u);
  EXPECT_EQ(post_health.reply.allow, "GET");
}

TEST(RequestHandler, HealthSaysWhetherTheServerDrains) {
  EXPECT_EQ(healthReply(false).status, 200u);
  EXPECT_EQ(json::parse(healthReply(false).body), json({{"status", "ok"}}));
  EXPECT_EQ(healthReply(true).status, 503u);
  EXPECT_EQ(json::parse(healthReply(true).body), json({{"status", "draining"}}));
}

std::string rawPost(const std::string& body, const std::string& extra_headers = "") {
  return "POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + extra_headers +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

TEST(RequestHandler, BytesGoThroughTheParserLimits) {
  const RequestLimits l = limits();
  auto ok = handleBytes(rawPost(R"({"texts": ["a b"]})"), l);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->texts, std::vector<std::string>{"a b"});

  // Content-Length over the limit fails on the header alone: the body need not even be there.
  auto big = handleBytes("POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         "Content-Length: 10000000\r\n\r\n{\"te",
                         l);
  ASSERT_TRUE(big);
  EXPECT_EQ(big->reply.status, 413u);

  std::string chunked = "POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 10; ++i) chunked += "400\r\n" + std::string(1024, 'x') + "\r\n";
  auto big_chunked = handleBytes(chunked, l);
  ASSERT_TRUE(big_chunked);
  EXPECT_EQ(big_chunked->reply.status, 413u);

  auto truncated = handleBytes(rawPost(R"({"texts": ["a b"]})").substr(0, 90), l);
  ASSERT_TRUE(truncated);
  EXPECT_EQ(truncated->reply.status, 400u);
  EXPECT_NE(errorOf(*truncated).find("truncated"), std::string::npos);

  auto garbage = handleBytes("\x01\x02\x03 hello\r\n\r\n", l);
  ASSERT_TRUE(garbage);
  EXPECT_EQ(garbage->reply.status, 400u);
  EXPECT_NE(errorOf(*garbage).find("malformed HTTP request"), std::string::npos);

  auto huge_header = handleBytes(rawPost("{}", "X-Pad: " + std::string(20000, 'p') + "\r\n"), l);
  ASSERT_TRUE(huge_header);
  EXPECT_EQ(huge_header->reply.status, 431u);

  EXPECT_FALSE(handleBytes("", l));  // closed before sending anything: no one to answer
}

// --- bounded random input ----------------------------------------------------

const std::set<unsigned> kStatuses = {200, 400, 404, 405, 413, 415, 431, 500, 503};

// Checks one answer against the contract (a failed expectation names the input).
void expectWithinContract(const Handled& h, const RequestLimits& l, const std::string& input) {
  if (h.route == Route::kClassify) {
    EXPECT_FALSE(h.texts.empty()) << input;
    EXPECT_LE(h.texts.size(), l.max_texts) << input;
    for (const auto& t : h.texts) {
      EXPECT_FALSE(t.empty()) << input;
      EXPECT_LE(t.size(), l.max_text_bytes) << input;
      EXPECT_EQ(firstInvalidUtf8(t), std::nullopt) << input;
    }
    return;
  }
  if (h.route != Route::kReply) return;
  EXPECT_TRUE(kStatuses.count(h.reply.status)) << h.reply.status << " for " << input;
  EXPECT_NE(h.reply.status, 500u) << h.reply.body;
  if (h.reply.status >= 400 && h.reply.status < 500) {
    const json j = json::parse(h.reply.body, nullptr, false);
    EXPECT_TRUE(j.is_object() && j.contains("error") && j["error"].is_string()) << h.reply.body;
  }
}

std::string randomBytes(std::mt19937& rng, size_t max_len) {
  std::uniform_int_distribution<size_t> len(0, max_len);
  std::uniform_int_distribution<int> byte(0, 255);
  std::string s(len(rng), '\0');
  for (char& c : s) c = static_cast<char>(byte(rng));
  return s;
}

// Flips, inserts, deletes or truncates a few bytes of `s`.
std::string mutate(std::mt19937& rng, std::string s) {
  static const std::string kInteresting = "{}[]\",:\\0123456789-eEtrufalsn \t\r\n\xFF\xC3\xED\x80";
  std::uniform_int_distribution<int> op(0, 4), byte(0, 255), edits(1, 4);
  for (int n = edits(rng); n > 0; --n) {
    const size_t pos = s.empty() ? 0 : std::uniform_int_distribution<size_t>(0, s.size() - 1)(rng);
    const char c = op(rng) % 2 ? static_cast<char>(byte(rng)) : kInteresting[byte(rng) % kInteresting.size()];
    switch (op(rng)) {
      case 0:
        if (!s.empty()) s[pos] = c;
        break;
      case 1:
        s.insert(s.begin() + static_cast<std::ptrdiff_t>(std::min(pos, s.size())), c);
        break;
      case 2:
        if (!s.empty()) s.erase(pos, 1);
        break;
      case 3:
        s.resize(pos);
        break;
      default:
        s.insert(std::min(pos, s.size()), s.substr(pos, 8));
        break;
    }
  }
  return s;
}

const std::vector<std::string> kSeeds = {
    R"({"texts": ["hello world"]})",
    R"({"texts": ["a", "b c", "caf\u00e9", "\ud83d\ude00"]})",
    R"({"texts": [1, null, true, {"x": []}]})",
    R"({"texts": []})",
    R"([{"texts": "x"}])",
    "{\"texts\": [\"bad \xC3 byte\", \"\xF0\x9F\x98\x80\"]}",
};

TEST(RequestHandlerFuzz, RandomAndMutatedBodiesStayWithinTheContract) {
  std::mt19937 rng(20240607);
  const RequestLimits l = limits();
  const std::vector<std::string> types = {"application/json", "application/json; charset=utf-8", "text/plain", "",
                                          "application/json; charset=\xFF"};
  const std::vector<std::pair<http::verb, std::string>> routes = {
      {http::verb::post, "/v1/classify"}, {http::verb::get, "/v1/classify"}, {http::verb::get, "/healthz"},
      {http::verb::get, "/metrics"},      {http::verb::put, "/v1/classify?x"}, {http::verb::post, "/\xFF"}};
  for (int i = 0; i < 4000; ++i) {
    std::string body;
    if (i % 4 == 0) {
      body = randomBytes(rng, 300);
    } else {
      body = mutate(rng, kSeeds[static_cast<size_t>(i) % kSeeds.size()]);
    }
    const auto& [method, target] = i % 8 == 0 ? routes[rng() % routes.size()] : routes[0];
    const std::string& type = i % 16 == 0 ? types[rng() % types.size()] : types[0];
    Handled h;
    ASSERT_NO_THROW(h = handleRequest(make(method, target, body, type), l)) << body;
    expectWithinContract(h, l, body);
  }
}

TEST(RequestHandlerFuzz, RandomAndMutatedRawRequestsStayWithinTheContract) {
  std::mt19937 rng(7);
  const RequestLimits l = limits();
  for (int i = 0; i < 3000; ++i) {
    std::string bytes;
    if (i % 5 == 0) {
      bytes = randomBytes(rng, 200);
    } else {
      bytes = mutate(rng, mutate(rng, rawPost(kSeeds[static_cast<size_t>(i) % kSeeds.size()])));
    }
    std::optional<Handled> h;
    ASSERT_NO_THROW(h = handleBytes(bytes, l));
    if (h) expectWithinContract(*h, l, bytes);
  }
}

}  // namespace
}  // namespace autoglm::launch::serve
