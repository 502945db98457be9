#pragma once
// One HTTP/1.1 connection of the server (the model is Beast's
// advanced_server example): it reads a request (bounded by the parser's
// header and body limits and by read_timeout), answers it, and reads the next
// while the client keeps the connection alive. Every handler runs on the
// connection's strand (the executor its socket was accepted with).
//
// A request with "Expect: 100-continue" gets "100 Continue" once its header
// passed the parser's limits.
//
// A connection may wait idle_timeout for the first byte of a request (the
// first one, and each next one on a keep-alive connection); from that byte,
// the request (header and body) must arrive within read_timeout, and the
// response must be taken within write_timeout. A connection over
// serve.max_connections (an overflow one, server.h) waits only
// overflow_idle_timeout, and answers /healthz and /metrics as usual and
// everything else with 503, then closes.
//
// A client that stalls half-way through a request is closed after
// read_timeout without holding anything else up; one that closes early gets
// no answer; one that sends garbage gets 400 and the connection closed.
// After a response with Connection: close the session shuts down its sending
// side and discards what the client still sends (up to `linger`), so that the
// client reads the response before the connection goes.
//
// Exceptions in a handler are caught, counted (Metrics::countSessionError)
// and close the connection; they never reach the io_context.

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "launch/serve/classify_service.h"
#include "launch/serve/kg_service.h"
#include "launch/serve/metrics.h"
#include "launch/serve/request_handler.h"

namespace autoglm::launch::serve {

class Session : public std::enable_shared_from_this<Session> {
 public:
  // What the sessions of one server share; outlives them.
  struct Context {
    RequestLimits limits;
    Metrics& metrics;
    ClassifyService* classify;  // the service of RequestLimits::api; the other is null
    const std::atomic<bool>& draining;          // responses carry Connection: close once set
    std::function<void(const Session*)> closed;  // from the destructor, any thread
    std::chrono::milliseconds read_timeout{30000};
    std::chrono::milliseconds write_timeout{30000};
    std::chrono::milliseconds linger{1000};
    std::chrono::milliseconds idle_timeout{30000};
    std::chrono::milliseconds overflow_idle_timeout{1000};
    int64_t max_connections = 0;  // for the 503 of an overflow connection
    KgService* kg = nullptr;
  };

  // `overflow`: accepted over serve.max_connections (see above).
  Session(boost::asio::ip::tcp::socket socket, const Context& context, bool overflow = false);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Starts reading requests. Thread-safe.
  void start();
  // Closes the connection if it is waiting for a request, and makes it close
  // after the response in progress otherwise (the drain). Thread-safe.
  void closeIfIdle();
  bool overflow() const { return overflow_; }

 private:
  template <typename F>
  void guarded(const char* where, F&& f) noexcept;

  void doRead();
  void onFirstBytes(const boost::system::error_code& ec, size_t bytes);
  void readHeader();
  void onHeader(const boost::system::error_code& ec);
  void readBody();
  void onRead(const boost::system::error_code& ec);
  void handle(const Request& request);
  void send(Reply reply);
  void onWrite(bool keep_alive, const boost::system::error_code& ec);
  void linger();
  void onLinger(const boost::system::error_code& ec);
  void close() noexcept;

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  std::optional<boost::beast::http::response<boost::beast::http::string_body>> response_;
  std::vector<char> discard_;
  const Context& ctx_;
  std::string peer_;  // "address:port", for log lines
  std::chrono::steady_clock::time_point started_;  // when the request in progress was read
  bool reading_ = false;                           // waiting for a request; on the strand
  bool keep_alive_ = false;                        // the request in progress asked for it
  bool closed_ = false;
  const bool overflow_;
};

}  // namespace autoglm::launch::serve
