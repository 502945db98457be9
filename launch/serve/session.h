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
#include "launch/serve/metrics.h"
#include "launch/serve/request_handler.h"

namespace autoglm::launch::serve {

class Session : public std::enable_shared_from_this<Session> {
 public:
  // What the sessions of one server share; outlives them.
  struct Context {
    RequestLimits limits;
    Metrics& metrics;
    ClassifyService& classify;
    const std::atomic<bool>& draining;          // responses carry Connection: close once set
    std::function<void(const Session*)> closed;  // from the destructor, any thread
    std::chrono::milliseconds read_timeout{30000};
    std::chrono::milliseconds write_timeout{30000};
    std::chrono::milliseconds linger{1000};
  };

  Session(boost::asio::ip::tcp::socket socket, const Context& context);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Starts reading requests. Thread-safe.
  void start();
  // Closes the connection if it is waiting for a request, and makes it close
  // after the response in progress otherwise (the drain). Thread-safe.
  void closeIfIdle();

 private:
  template <typename F>
  void guarded(const char* where, F&& f) noexcept;

  void doRead();
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
};

}  // namespace autoglm::launch::serve
