#include "launch/serve/request_handler.h"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

#include "launch/serve/utf8.h"

namespace autoglm::launch::serve {
namespace {

namespace http = boost::beast::http;
using nlohmann::json;

std::string_view view(boost::beast::string_view s) { return {s.data(), s.size()}; }

std::string_view trim(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool onlyWhitespace(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  });
}

Handled answer(Reply reply) {
  Handled h;
  h.reply = std::move(reply);
  return h;
}

Handled fail(unsigned status, const std::string& message) { return answer(errorReply(status, message)); }

// 415 unless the Content-Type is application/json, with charset=utf-8 if any charset.
std::optional<Reply> checkContentType(const Request& req) {
  const auto it = req.find(http::field::content_type);
  if (it == req.end()) return errorReply(415, "missing Content-Type; send Content-Type: application/json");
  const std::string_view value = view(it->value());
  std::string_view rest = value;
  size_t semi = rest.find(';');
  const std::string media = lower(trim(rest.substr(0, semi)));
  if (media != "application/json") {
    return errorReply(415, "Content-Type '" + std::string(value) + "' is not supported; send application/json");
  }
  while (semi != std::string_view::npos) {
    rest.remove_prefix(semi + 1);
    semi = rest.find(';');
    const std::string_view param = trim(rest.substr(0, semi));
    const size_t eq = param.find('=');
    if (eq == std::string_view::npos || lower(trim(param.substr(0, eq))) != "charset") continue;
    std::string_view charset = trim(param.substr(eq + 1));
    if (charset.size() >= 2 && charset.front() == '"' && charset.back() == '"') {
      charset = charset.substr(1, charset.size() - 2);
    }
    const std::string cs = lower(charset);
    if (cs != "utf-8" && cs != "utf8") {
      return errorReply(415, "charset '" + std::string(charset) + "' is not supported; send UTF-8");
    }
  }
  return std::nullopt;
}

// parse_error, or out_of_range for a number too large for a double (1e999).
std::string parseErrorMessage(const json::exception& e) {
  std::string_view what = e.what();
  const size_t close = what.find("] ");
  if (close != std::string_view::npos) what.remove_prefix(close + 2);
  return "malformed JSON: " + std::string(what);
}

// The bytes of `text` before the first byte where it differs from `other`.
size_t firstDifference(const std::string& text, const std::string& other) {
  const size_t n = std::min(text.size(), other.size());
  size_t i = 0;
  while (i < n && text[i] == other[i]) ++i;
  return i;
}

// Checks one element of `texts` (`marked`: the same element parsed with each
// invalid UTF-8 byte as U+0000 where `element` has '?', or null when the body
// is valid UTF-8).
std::optional<std::string> checkText(size_t i, const json& element, const json* marked,
                                     const RequestLimits& limits) {
  const std::string where = "texts[" + std::to_string(i) + "]: ";
  if (!element.is_string()) return where + "not a string (got " + element.type_name() + ")";
  const auto& text = element.get_ref<const std::string&>();
  if (marked != nullptr) {
    const auto& other = marked->get_ref<const std::string&>();
    if (other != text) return where + "not valid UTF-8 at byte " + std::to_string(firstDifference(text, other));
  }
  if (text.empty()) return where + "empty text";
  if (text.size() > limits.max_text_bytes) {
    return where + std::to_string(text.size()) + " bytes, at most " + std::to_string(limits.max_text_bytes) +
           " per text (serve.max_text_bytes)";
  }
  if (onlyWhitespace(text)) return where + "only whitespace";
  return std::nullopt;
}

Handled validateTexts(const json& doc, const json* marked, const RequestLimits& limits) {
  if (!doc.is_object()) {
    return fail(400, std::string("body: expected a JSON object {\"texts\": [...]}, got ") + doc.type_name());
  }
  const auto it = doc.find("texts");
  if (it == doc.end()) return fail(400, "missing \"texts\": expected {\"texts\": [\"...\", ...]}");
  const json& texts = *it;
  if (!texts.is_array()) return fail(400, std::string("texts: expected an array of strings, got ") + texts.type_name());
  if (texts.empty()) return fail(400, "texts: empty array; send at least one text");
  if (texts.size() > limits.max_texts) {
    return fail(400, "texts: " + std::to_string(texts.size()) + " texts, at most " +
                         std::to_string(limits.max_texts) + " per request (serve.max_texts)");
  }
  const json* marked_texts = marked != nullptr ? &marked->at("texts") : nullptr;
  Handled h;
  h.route = Route::kClassify;
  h.texts.reserve(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    const json* m = marked_texts != nullptr ? &(*marked_texts)[i] : nullptr;
    if (auto problem = checkText(i, texts[i], m, limits)) return fail(400, *problem);
    h.texts.push_back(texts[i].get<std::string>());
  }
  return h;
}

// A body with bytes that are not UTF-8 (the first at `bad`): parsed twice,
// each such byte replaced by '?' and by \u0000; a text where the two differ
// holds one, and where they first differ is its offset in that text.
Handled validateNonUtf8(const std::string& body, size_t bad, const RequestLimits& limits) {
  std::string question, nul;
  question.reserve(body.size());
  nul.reserve(body.size() + 16);
  for (size_t pos = 0; pos < body.size();) {
    const size_t len = utf8SequenceLength(body, pos);
    if (len == 0) {
      question += '?';
      nul += "\\u0000";
      ++pos;
    } else {
      question.append(body, pos, len);
      nul.append(body, pos, len);
      pos += len;
    }
  }
  const std::string outside = "body: not valid UTF-8 at byte " + std::to_string(bad);
  json doc, marked;
  try {
    doc = json::parse(question);
    marked = json::parse(nul);
  } catch (const json::exception&) {
    return fail(400, outside);
  }
  Handled h = validateTexts(doc, &marked, limits);
  if (h.route == Route::kClassify) return fail(400, outside + " (outside \"texts\")");
  return h;
}

// 415 or 413 for a POST body, or nothing when it may be parsed.
std::optional<Reply> checkBody(const Request& req, const RequestLimits& limits) {
  if (auto bad = checkContentType(req)) return bad;
  const std::string& body = req.body();
  if (body.size() > limits.max_body_bytes) {
    return errorReply(413, "body of " + std::to_string(body.size()) + " bytes is over the limit of " +
                               std::to_string(limits.max_body_bytes) + " bytes (serve.max_body_bytes)");
  }
  return std::nullopt;
}

Handled kgRequest(const Request& req, const RequestLimits& limits) {
  if (auto bad = checkBody(req, limits)) return answer(std::move(*bad));
  const std::string& body = req.body();
  if (auto bad = firstInvalidUtf8(body)) return fail(400, "body: not valid UTF-8 at byte " + std::to_string(*bad));
  json doc;
  try {
    doc = json::parse(body);
  } catch (const json::exception& e) {
    return fail(400, parseErrorMessage(e));
  }
  auto parsed = parseKgRequest(doc, limits.max_k);
  if (auto* message = std::get_if<std::string>(&parsed)) return fail(400, *message);
  Handled h;
  h.route = Route::kKgComplete;
  h.kg = std::move(std::get<KgRequest>(parsed));
  return h;
}

Handled classifyRequest(const Request& req, const RequestLimits& limits) {
  if (auto bad = checkBody(req, limits)) return answer(std::move(*bad));
  const std::string& body = req.body();
  if (auto bad = firstInvalidUtf8(body)) return validateNonUtf8(body, *bad, limits);
  json doc;
  try {
    doc = json::parse(body);
  } catch (const json::exception& e) {
    return fail(400, parseErrorMessage(e));
  }
  return validateTexts(doc, nullptr, limits);
}

Handled methodNotAllowed(const Request& req, std::string_view path, const char* allow) {
  Handled h = fail(405, "method " + std::string(view(req.method_string())) + " is not allowed on " +
                            std::string(path) + "; use " + allow);
  h.reply.allow = allow;
  return h;
}

Handled route(const Request& req, const RequestLimits& limits) {
  std::string_view path = view(req.target());
  path = path.substr(0, path.find('?'));
  const bool kg = limits.api == Api::kKgCompletion;
  const std::string_view served = kg ? "/v1/kg/complete" : "/v1/classify";
  if (path == served) {
    if (req.method() != http::verb::post) return methodNotAllowed(req, path, "POST");
    return kg ? kgRequest(req, limits) : classifyRequest(req, limits);
  }
  if (path == "/healthz" || path == "/metrics") {
    if (req.method() != http::verb::get) return methodNotAllowed(req, path, "GET");
    Handled h;
    h.route = path == "/healthz" ? Route::kHealth : Route::kMetrics;
    return h;
  }
  return fail(404, "no route for '" + std::string(path) + "'; the server answers POST " + std::string(served) +
                       " (a " + (kg ? "kg_completion" : "classification") +
                       " checkpoint), GET /healthz and GET /metrics");
}

}  // namespace

RequestLimits RequestLimits::from(const trainer::ServeConfig& config) {
  RequestLimits l;
  l.max_body_bytes = static_cast<uint64_t>(config.max_body_bytes);
  l.max_texts = static_cast<size_t>(config.max_texts);
  l.max_text_bytes = static_cast<size_t>(config.max_text_bytes);
  return l;
}

Handled handleRequest(const Request& request, const RequestLimits& limits) {
  try {
    return route(request, limits);
  } catch (const std::exception& e) {
    return fail(500, std::string("internal error while handling the request: ") + e.what());
  }
}

void configureParser(RequestParser& parser, const RequestLimits& limits) {
  parser.body_limit(limits.max_body_bytes);
  parser.header_limit(kMaxHeaderBytes);
}

std::optional<Reply> readErrorReply(const boost::system::error_code& ec, const RequestLimits& limits) {
  if (ec == http::error::body_limit) {
    return errorReply(413, "body is over the limit of " + std::to_string(limits.max_body_bytes) +
                               " bytes (serve.max_body_bytes)");
  }
  if (ec == http::error::header_limit) {
    return errorReply(431, "request header is over " + std::to_string(kMaxHeaderBytes) + " bytes");
  }
  if (ec == http::error::end_of_stream || ec.category() != http::make_error_code(http::error::need_more).category()) {
    return std::nullopt;
  }
  if (ec == http::error::partial_message) return errorReply(400, "request truncated: the connection ended inside it");
  return errorReply(400, "malformed HTTP request: " + ec.message());
}

std::optional<Handled> handleBytes(std::string_view bytes, const RequestLimits& limits) {
  if (bytes.empty()) return std::nullopt;  // closed before a request started (http::error::end_of_stream)
  try {
    RequestParser parser;
    configureParser(parser, limits);
    parser.eager(true);
    boost::system::error_code ec;
    size_t used = 0;
    while (!parser.is_done()) {
      size_t n = 0;
      if (used < bytes.size()) n = parser.put(boost::asio::buffer(bytes.data() + used, bytes.size() - used), ec);
      used += n;
      if (ec == http::error::need_more) ec = {};
      if (!ec && n == 0) parser.put_eof(ec);  // nothing more will come
      if (ec) {
        auto reply = readErrorReply(ec, limits);
        if (!reply) return std::nullopt;
        return answer(std::move(*reply));
      }
    }
    return handleRequest(parser.get(), limits);
  } catch (const std::exception& e) {
    return fail(500, std::string("internal error while reading the request: ") + e.what());
  }
}

Reply healthReply(bool draining) {
  return jsonReply(draining ? 503 : 200, json{{"status", draining ? "draining" : "ok"}});
}

}  // namespace autoglm::launch::serve
