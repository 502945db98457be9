#include "launch/serve/session.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "core/log.h"

namespace autoglm::launch::serve {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

Session::Session(asio::ip::tcp::socket socket, const Context& context, bool overflow)
    : stream_(std::move(socket)), ctx_(context), overflow_(overflow) {
  beast::error_code ec;
  const auto ep = stream_.socket().remote_endpoint(ec);
  peer_ = ec ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port());
}

Session::~Session() {
  if (ctx_.closed) ctx_.closed(this);
}

template <typename F>
void Session::guarded(const char* where, F&& f) noexcept {
  try {
    f();
  } catch (const std::exception& e) {
    ctx_.metrics.countSessionError();
    core::log::warn("serve: connection {}: {} failed: {}; closing it", peer_, where, e.what());
    close();
  } catch (...) {
    ctx_.metrics.countSessionError();
    core::log::warn("serve: connection {}: {} failed with a non-standard exception; closing it", peer_, where);
    close();
  }
}

void Session::start() {
  asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
    self->guarded("start", [&] { self->doRead(); });
  });
}

void Session::closeIfIdle() {
  asio::post(stream_.get_executor(), [self = shared_from_this()] {
    self->guarded("drain", [&] {
      if (self->reading_) self->close();
    });
  });
}

void Session::doRead() {
  if (closed_) return;
  if (ctx_.draining.load()) return close();
  parser_.emplace();
  configureParser(*parser_, ctx_.limits);
  reading_ = true;
  if (buffer_.size() > 0) return readHeader();  // pipelined: the next request is here already
  // Idle until the request's first byte: idle_timeout, then read_timeout for the rest.
  stream_.expires_after(overflow_ ? ctx_.overflow_idle_timeout : ctx_.idle_timeout);
  stream_.async_read_some(buffer_.prepare(16 * 1024), [self = shared_from_this()](beast::error_code ec, size_t n) {
    self->guarded("read", [&] { self->onFirstBytes(ec, n); });
  });
}

// A connection that stays idle, or closes, before a request is closed without an answer.
void Session::onFirstBytes(const beast::error_code& ec, size_t bytes) {
  if (ec || closed_) return close();
  buffer_.commit(bytes);
  readHeader();
}

void Session::readHeader() {
  if (closed_) return;
  stream_.expires_after(ctx_.read_timeout);  // for the header and the body together
  http::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
    self->guarded("read", [&] { self->onHeader(ec); });
  });
}

// A client that sent "Expect: 100-continue" (curl does for bodies over 1 KiB)
// waits for "100 Continue" before it sends the body. A Content-Length over
// the body limit has already failed here, so such a client never sends it.
void Session::onHeader(const beast::error_code& ec) {
  if (ec || parser_->is_done()) return onRead(ec);
  if (!beast::iequals(parser_->get()[http::field::expect], "100-continue")) return readBody();
  static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                    [self = shared_from_this()](beast::error_code e, size_t) {
                      self->guarded("read", [&] {
                        if (e) return self->close();
                        self->readBody();
                      });
                    });
}

void Session::readBody() {
  if (closed_) return;
  http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
    self->guarded("read", [&] { self->onRead(ec); });
  });
}

void Session::onRead(const beast::error_code& ec) {
  reading_ = false;
  if (closed_) return;
  started_ = std::chrono::steady_clock::now();
  if (ec) {
    auto reply = readErrorReply(ec, ctx_.limits);
    if (!reply) return close();
    keep_alive_ = false;
    return send(std::move(*reply));
  }
  const Request request = parser_->release();
  keep_alive_ = request.keep_alive() && !overflow_;
  handle(request);
}

void Session::handle(const Request& request) {
  Handled h = handleRequest(request, ctx_.limits);
  if (overflow_ && h.route != Route::kHealth && h.route != Route::kMetrics) {
    return send(errorReply(503, "too many connections: serve.max_connections=" +
                                    std::to_string(ctx_.max_connections) + " are open; retry later"));
  }
  switch (h.route) {
    case Route::kReply:
      return send(std::move(h.reply));
    case Route::kHealth:
      return send(healthReply(ctx_.draining.load()));
    case Route::kMetrics: {
      Reply r;
      r.content_type = kMetricsContentType;
      r.body = ctx_.metrics.render();
      return send(std::move(r));
    }
    case Route::kClassify:
      ctx_.classify->classify(std::move(h.texts), stream_.get_executor(), [self = shared_from_this()](Reply r) {
        self->guarded("classify", [&] { self->send(std::move(r)); });
      });
      return;
    case Route::kKgComplete:
      ctx_.kg->complete(h.kg, stream_.get_executor(), [self = shared_from_this()](Reply r) {
        self->guarded("kg complete", [&] { self->send(std::move(r)); });
      });
      return;
  }
}

void Session::send(Reply reply) {
  if (closed_) return;
  const bool keep_alive = keep_alive_ && !ctx_.draining.load();
  auto& res = response_.emplace();
  res.version(11);
  res.result(reply.status);
  res.set(http::field::server, "autoglm");
  res.set(http::field::content_type, reply.content_type);
  if (!reply.allow.empty()) res.set(http::field::allow, reply.allow);
  res.keep_alive(keep_alive);
  res.body() = std::move(reply.body);
  res.prepare_payload();
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started_;
  ctx_.metrics.countRequest(reply.status, took.count());
  stream_.expires_after(ctx_.write_timeout);
  http::async_write(stream_, res, [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
    self->guarded("write", [&] { self->onWrite(keep_alive, ec); });
  });
}

void Session::onWrite(bool keep_alive, const beast::error_code& ec) {
  response_.reset();
  if (ec) return close();
  if (!keep_alive) return linger();
  doRead();
}

void Session::linger() {
  beast::error_code ignored;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  discard_.resize(16 * 1024);
  stream_.expires_after(ctx_.linger);
  onLinger({});
}

void Session::onLinger(const beast::error_code& ec) {
  if (ec || closed_) return close();
  stream_.async_read_some(asio::buffer(discard_), [self = shared_from_this()](beast::error_code e, size_t) {
    self->guarded("close", [&] { self->onLinger(e); });
  });
}

void Session::close() noexcept {
  if (closed_) return;
  closed_ = true;
  beast::error_code ignored;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  try {
    stream_.close();  // the socket and the timeout timer
  } catch (const std::exception&) {
    stream_.socket().close(ignored);
  }
}

}  // namespace autoglm::launch::serve
