#pragma once
// The pure part of serving: an HTTP request in, what to do with it out. No
// sockets, engine, clocks or shared state, so that random input can be fed to
// it (tests/launch/serve/request_handler_test.cc, request_fuzzer.cc).
//
//   POST /v1/classify  {"texts": ["...", ...]}  -> Route::kClassify with the texts
//   POST /v1/kg/complete {"head"|"tail", "relation", "k", "filter"}
//                                                -> Route::kKgComplete (kg_request.h)
//   GET  /healthz                                -> Route::kHealth
//   GET  /metrics                                -> Route::kMetrics
//
// Everything else is answered here (Route::kReply), always with a JSON body
// {"error": "..."} that names the problem: 404 unknown path, 405 wrong method
// (with Allow), 415 Content-Type other than application/json (a charset
// parameter, if any, must be UTF-8), 413 body over max_body_bytes, 400 for
// malformed JSON, `texts` missing / not an array / empty / over max_texts, an
// element that is not a string ("texts[2]: not a string (got number)"), not
// UTF-8 ("texts[0]: not valid UTF-8 at byte 5"), empty or only whitespace, or
// over max_text_bytes. A server serves one of the two POST routes (the
// checkpoint's model kind: RequestLimits::api); the other is 404 naming the
// one it serves.

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/error_code.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "launch/serve/kg_request.h"
#include "launch/serve/reply.h"
#include "trainer/config/serve_config.h"

namespace autoglm::launch::serve {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

// Request header bytes (request line and fields) beyond which the answer is 431.
inline constexpr uint32_t kMaxHeaderBytes = 16 * 1024;

// What the server answers: text classification or knowledge-graph completion.
enum class Api { kClassify, kKgCompletion };

struct RequestLimits {
  Api api = Api::kClassify;
  int64_t max_k = kMaxK;  // knowledge-graph completion: answers per query
  uint64_t max_body_bytes = 1 << 20;
  size_t max_texts = 256;
  size_t max_text_bytes = 65536;

  static RequestLimits from(const trainer::ServeConfig& config);
};

enum class Route { kReply, kClassify, kKgComplete, kHealth, kMetrics };

struct Handled {
  Route route = Route::kReply;
  Reply reply;                     // Route::kReply: the answer
  std::vector<std::string> texts;  // Route::kClassify: the validated texts, in request order
  KgRequest kg;                    // Route::kKgComplete: the validated query (names not yet resolved)
};

// Routes and validates one request that was read whole. Never throws: an
// unexpected failure becomes a 500 reply.
Handled handleRequest(const Request& request, const RequestLimits& limits);

// Sets the parser's body limit (max_body_bytes: a larger Content-Length, or a
// chunked body growing past it, fails at once with error::body_limit, so the
// body is never buffered whole) and header limit (kMaxHeaderBytes).
void configureParser(RequestParser& parser, const RequestLimits& limits);

// The answer to a request that could not be read (`ec` from http::read or a
// parser): 413 for body_limit, 431 for header_limit, 400 for a malformed or
// truncated request. nullopt when there is no one to answer: the connection
// ended before a request started, was reset, or timed out.
std::optional<Reply> readErrorReply(const boost::system::error_code& ec, const RequestLimits& limits);

// Reads the first request in `bytes` as a session does (configureParser),
// then handles it: what a client that sent exactly these bytes and closed its
// sending side gets; nullopt when it gets no answer. Never throws.
std::optional<Handled> handleBytes(std::string_view bytes, const RequestLimits& limits);

// GET /healthz: 200 {"status":"ok"}, or 503 {"status":"draining"} once the server stops.
Reply healthReply(bool draining);

}  // namespace autoglm::launch::serve
