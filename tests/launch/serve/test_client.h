#pragma once
// Test helpers: a server on an ephemeral loopback port, run on a background
// thread, and a client (Beast over its own io_context) whose every operation
// has a time limit, so that a broken server fails a test instead of hanging it.

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "launch/serve/server.h"
#include "tests/launch/serve/fake_engine.h"

namespace autoglm::launch::serve::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Response = http::response<http::string_body>;

inline trainer::ServeConfig testConfig() {
  trainer::ServeConfig c;
  c.host = "127.0.0.1";
  c.port = 0;
  c.threads = 2;
  c.max_batch = 8;
  c.max_wait_ms = 0;
  c.queue_capacity = 64;
  c.cache_entries = 0;
  c.max_texts = 16;
  c.max_text_bytes = 256;
  c.max_body_bytes = 64 * 1024;
  c.drain_timeout_s = 20;
  return c;
}

// Server::run() on a thread; the destructor releases the engine, stops the
// server and joins.
struct RunningServer {
  RunningServer(const trainer::ServeConfig& config, FakeEngine& e) : engine(e), server(config, e) {
    port = server.listen();
    thread = std::thread([this] { server.run(); });
  }
  ~RunningServer() {
    engine.release();
    server.stop();
    if (thread.joinable()) thread.join();
  }
  FakeEngine& engine;
  Server server;
  uint16_t port = 0;
  std::thread thread;
};

// What a raw read got: the bytes, and how the stream ended (eof: closed by the server).
struct RawResult {
  std::string data;
  beast::error_code end;
};

class TestClient {
 public:
  static constexpr std::chrono::seconds kLimit{15};

  explicit TestClient(uint16_t port) : stream_(ioc_) {
    const asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
    stream_.expires_after(kLimit);
    const auto ec = wait([&](auto handler) { stream_.async_connect(ep, handler); });
    if (ec) throw beast::system_error(ec, "connect to 127.0.0.1:" + std::to_string(port));
  }

  // Whether a connection to `port` is accepted now.
  static bool canConnect(uint16_t port) {
    try {
      TestClient c(port);
      return true;
    } catch (const beast::system_error&) {
      return false;
    }
  }

  Response request(http::verb method, const std::string& target, const std::string& body = "",
                   const std::string& content_type = "application/json", bool keep_alive = true) {
    http::request<http::string_body> req(method, target, 11);
    req.set(http::field::host, "127.0.0.1");
    if (!content_type.empty()) req.set(http::field::content_type, content_type);
    req.keep_alive(keep_alive);
    req.body() = body;
    req.prepare_payload();
    return send(req);
  }

  Response classify(const nlohmann::json& body, bool keep_alive = true) {
    return request(http::verb::post, "/v1/classify", body.dump(), "application/json", keep_alive);
  }

  Response send(http::request<http::string_body>& req) {
    stream_.expires_after(kLimit);
    auto ec = wait([&](auto handler) { http::async_write(stream_, req, handler); });
    if (ec) throw beast::system_error(ec, "write");
    Response res;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    ec = wait([&](auto handler) { http::async_read(stream_, buffer_, parser, handler); });
    if (ec) throw beast::system_error(ec, "read");
    return parser.release();
  }

  // Writes `bytes`; the error, if the server closed first.
  beast::error_code sendRaw(std::string_view bytes) {
    stream_.expires_after(kLimit);
    return wait([&](auto handler) { asio::async_write(stream_, asio::buffer(bytes.data(), bytes.size()), handler); });
  }

  // Reads up to and including the first `delimiter`; what follows stays buffered for the next read.
  std::string readUntil(const std::string& delimiter) {
    stream_.expires_after(kLimit);
    for (;;) {
      const std::string_view have(static_cast<const char*>(buffer_.data().data()), buffer_.size());
      const size_t at = have.find(delimiter);
      if (at != std::string_view::npos) {
        std::string out(have.substr(0, at + delimiter.size()));
        buffer_.consume(out.size());
        return out;
      }
      size_t got = 0;
      const auto ec = wait([&](auto handler) { stream_.async_read_some(buffer_.prepare(4096), handler); }, &got);
      if (ec) throw beast::system_error(ec, "read until " + delimiter);
      buffer_.commit(got);
    }
  }

  void shutdownSend() {
    beast::error_code ignored;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  }

  // Everything the server sends until it closes (or kLimit passes: end is then timeout).
  RawResult readAll() {
    RawResult r;
    r.data.assign(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    buffer_.consume(buffer_.size());
    stream_.expires_after(kLimit);
    char chunk[4096];
    for (;;) {
      size_t got = 0;
      const auto ec = wait([&](auto handler) { stream_.async_read_some(asio::buffer(chunk), handler); }, &got);
      r.data.append(chunk, got);
      if (ec) {
        r.end = ec;
        return r;
      }
    }
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

 private:
  struct Handler {
    beast::error_code* ec;
    size_t* bytes;
    void operator()(beast::error_code e) const { *ec = e; }
    void operator()(beast::error_code e, size_t n) const {
      *ec = e;
      if (bytes != nullptr) *bytes = n;
    }
  };

  template <typename Start>
  beast::error_code wait(Start&& start, size_t* bytes = nullptr) {
    beast::error_code result = asio::error::would_block;
    start(Handler{&result, bytes});
    ioc_.restart();
    ioc_.run();
    return result;
  }

  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

// Parses the first HTTP response in `bytes`; nullopt if there is none complete.
inline std::optional<Response> parseResponse(const std::string& bytes) {
  http::response_parser<http::string_body> parser;
  parser.eager(true);
  parser.body_limit(64 * 1024 * 1024);
  beast::error_code ec;
  size_t used = 0;
  while (!parser.is_done() && used < bytes.size()) {
    const size_t n = parser.put(asio::buffer(bytes.data() + used, bytes.size() - used), ec);
    used += n;
    if (ec || n == 0) break;
  }
  if (!parser.is_done()) return std::nullopt;
  return parser.release();
}

inline nlohmann::json jsonOf(const Response& res) { return nlohmann::json::parse(res.body()); }

// Polls `condition` (up to 20 s, so that a broken server fails instead of hanging).
template <typename F>
bool eventually(F condition) {
  for (int i = 0; i < 4000; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return condition();
}

}  // namespace autoglm::launch::serve::testing
