#include "launch/serve/server.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <csignal>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/log.h"
#include "launch/serve/batcher.h"
#include "launch/serve/classify_service.h"
#include "launch/serve/lru_cache.h"
#include "launch/serve/session.h"
#include "launch/serve/session_registry.h"

namespace autoglm::launch::serve {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

Batcher::Options batcherOptions(const trainer::ServeConfig& c) {
  Batcher::Options o;
  o.max_batch = static_cast<size_t>(std::max<int64_t>(1, c.max_batch));
  o.max_wait = std::chrono::microseconds(static_cast<int64_t>(std::max(0.0, c.max_wait_ms) * 1000.0));
  o.capacity = static_cast<size_t>(std::max<int64_t>(1, c.queue_capacity));
  return o;
}

}  // namespace

// Declaration order is destruction order reversed: the io_context goes
// before what the sessions it still holds refer to (registry, context).
struct Server::State {
  State(const trainer::ServeConfig& c, Engine& e)
      : config(c),
        engine(e),
        cache(static_cast<size_t>(std::max<int64_t>(0, c.cache_entries))),
        batcher(std::make_unique<Batcher>(e, batcherOptions(c), metrics)),
        classify(e, *batcher, cache, metrics),
        context{RequestLimits::from(c), metrics, classify, draining, [this](const Session* s) { onClosed(s); }},
        acceptor(asio::make_strand(io)),
        drain_timer(io),
        retry_timer(acceptor.get_executor()) {}

  void accept();
  void onAccept(const boost::system::error_code& ec, tcp::socket socket);
  void requestStop();
  void beginDrain();
  void waitForSignal();
  void onClosed(const Session* session);
  void loop();

  const trainer::ServeConfig config;
  Engine& engine;
  Metrics metrics;
  LruCache cache;
  std::unique_ptr<Batcher> batcher;
  ClassifyService classify;
  SessionRegistry registry;
  std::atomic<bool> draining{false};
  std::atomic<bool> stop_requested{false};
  std::atomic<bool> destroying{false};
  bool ran = false;
  Session::Context context;
  asio::io_context io;
  tcp::acceptor acceptor;
  asio::steady_timer drain_timer;
  asio::steady_timer retry_timer;
  std::unique_ptr<asio::signal_set> signals;
};

void Server::State::accept() {
  acceptor.async_accept(asio::make_strand(io), [this](const boost::system::error_code& ec, tcp::socket socket) {
    onAccept(ec, std::move(socket));
  });
}

void Server::State::onAccept(const boost::system::error_code& ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || draining.load()) return;
  if (ec) {
    // Out of file descriptors and the like: try again shortly instead of spinning.
    core::log::warn("serve: accept failed: {}; retrying in 50 ms", ec.message());
    retry_timer.expires_after(std::chrono::milliseconds(50));
    retry_timer.async_wait([this](const boost::system::error_code& e) {
      if (!e && !draining.load()) accept();
    });
    return;
  }
  try {
    auto session = std::make_shared<Session>(std::move(socket), context);
    registry.add(session);
    session->start();
  } catch (const std::exception& e) {
    metrics.countSessionError();
    core::log::warn("serve: could not start a connection: {}", e.what());
  }
  accept();
}

void Server::State::requestStop() {
  if (stop_requested.exchange(true)) return;
  asio::post(acceptor.get_executor(), [this] { beginDrain(); });
}

void Server::State::waitForSignal() {
  signals->async_wait([this](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    if (!stop_requested.load()) {
      core::log::info("serve: signal {}: draining (a second signal stops at once)", signal);
      requestStop();
      waitForSignal();
    } else {
      core::log::warn("serve: signal {} during the drain: stopping now", signal);
      io.stop();
    }
  });
}

// On the acceptor's strand, once.
void Server::State::beginDrain() {
  draining.store(true);
  boost::system::error_code ignored;
  acceptor.close(ignored);
  retry_timer.cancel();
  const auto open = registry.live();
  core::log::info("serve: draining: stopped accepting; {} connection(s) open, waiting up to {} s "
                  "(serve.drain_timeout_s)", open.size(), config.drain_timeout_s);
  drain_timer.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(config.drain_timeout_s)));
  drain_timer.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    core::log::warn("serve: drain timeout ({} s, serve.drain_timeout_s) with {} connection(s) still open; "
                    "dropping them", config.drain_timeout_s, registry.size());
    io.stop();
  });
  for (const auto& s : open) s->closeIfIdle();
  if (registry.size() == 0) io.stop();
}

// From a session's destructor, on any thread.
void Server::State::onClosed(const Session* session) {
  const size_t left = registry.remove(session);
  if (left == 0 && draining.load() && !destroying.load()) {
    core::log::info("serve: drained: every connection closed");
    io.stop();
  }
}

void Server::State::loop() {
  for (;;) {
    try {
      io.run();
      return;
    } catch (const std::exception& e) {
      metrics.countSessionError();
      core::log::error("serve: a handler threw out of the io_context: {}", e.what());
    } catch (...) {
      metrics.countSessionError();
      core::log::error("serve: a handler threw a non-standard exception out of the io_context");
    }
  }
}

Server::Server(const trainer::ServeConfig& config, Engine& engine)
    : state_(std::make_unique<State>(config, engine)) {}

Server::~Server() {
  state_->destroying.store(true);
  state_->batcher.reset();  // its last completions post into the io_context, which is still there
}

uint16_t Server::listen() {
  State& s = *state_;
  const std::string where = s.config.host + ":" + std::to_string(s.config.port);
  if (s.acceptor.is_open()) throw Error("serve: already listening on " + where);
  try {
    tcp::resolver resolver(s.io);
    const auto results = resolver.resolve(s.config.host, std::to_string(s.config.port),
                                          tcp::resolver::passive | tcp::resolver::numeric_service);
    const tcp::endpoint endpoint = results.begin()->endpoint();
    s.acceptor.open(endpoint.protocol());
    s.acceptor.set_option(asio::socket_base::reuse_address(true));
    s.acceptor.bind(endpoint);
    s.acceptor.listen(asio::socket_base::max_listen_connections);
  } catch (const boost::system::system_error& e) {
    boost::system::error_code ignored;
    s.acceptor.close(ignored);
    std::string hint;
    if (e.code() == asio::error::address_in_use) {
      hint = " (another process has this port: stop it, or set serve.port to another port or to 0 for any free one)";
    }
    throw Error("serve: cannot listen on " + where + ": " + e.code().message() + hint);
  }
  const uint16_t port = s.acceptor.local_endpoint().port();
  core::log::info("serve: listening on {}:{}", s.config.host, port);
  return port;
}

void Server::stopOnSignals() {
  State& s = *state_;
  s.signals = std::make_unique<asio::signal_set>(s.io, SIGINT, SIGTERM);
  s.waitForSignal();
}

void Server::run() {
  State& s = *state_;
  if (s.ran) throw Error("serve: Server::run() was already called; a Server runs once");
  s.ran = true;
  if (!s.acceptor.is_open() && !s.stop_requested.load()) listen();
  asio::post(s.acceptor.get_executor(), [&s] {
    if (!s.draining.load()) s.accept();
  });
  auto guard = asio::make_work_guard(s.io);  // sessions waiting for the model have no pending I/O
  std::vector<std::thread> threads;
  for (int64_t i = 1; i < s.config.threads; ++i) threads.emplace_back([&s] { s.loop(); });
  s.loop();
  for (auto& t : threads) t.join();
}

void Server::stop() { state_->requestStop(); }

bool Server::draining() const { return state_->draining.load(); }

const Metrics& Server::metrics() const { return state_->metrics; }

}  // namespace autoglm::launch::serve
