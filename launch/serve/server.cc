#include "launch/serve/server.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <deque>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/log.h"
#include "launch/serve/batcher.h"
#include "launch/serve/classify_service.h"
#include "launch/serve/kg_service.h"
#include "launch/serve/log_throttle.h"
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

std::chrono::milliseconds millis(double seconds) {
  return std::chrono::milliseconds(std::max<int64_t>(1, static_cast<int64_t>(seconds * 1000.0)));
}

Session::Context sessionContext(const trainer::ServeConfig& c, Session::Context base, size_t max_connections) {
  base.read_timeout = millis(c.read_timeout_s);
  base.write_timeout = millis(c.write_timeout_s);
  base.idle_timeout = millis(c.idle_timeout_s);
  base.overflow_idle_timeout = std::min(base.idle_timeout, std::chrono::milliseconds(1000));
  base.max_connections = static_cast<int64_t>(max_connections);
  return base;
}

constexpr auto kLogPeriod = std::chrono::seconds(10);
constexpr auto kFirstRetry = std::chrono::milliseconds(10);
constexpr auto kLongestRetry = std::chrono::milliseconds(1000);

}  // namespace

ConnectionLimits connectionLimits(int64_t max_connections, uint64_t open_files) {
  constexpr uint64_t kReserved = 64;  // the process's own: logs, the model's files, LibTorch
  auto overflowOf = [](uint64_t served) { return std::clamp<uint64_t>(served / 16, 8, 256); };
  auto fits = [&](uint64_t served, uint64_t usable) { return served + 2 * overflowOf(served) <= usable; };
  if (open_files < kReserved + 2 * 8 + 1) {
    throw ConfigError(detail::concat("serve: the open-file limit (ulimit -n) is ", open_files,
                                     ", too low to serve connections; raise it (1024 or more)"));
  }
  const uint64_t usable = open_files - kReserved;
  ConnectionLimits l;
  l.open_files = open_files;
  if (max_connections == 0) {
    l.served = std::min<uint64_t>(16384, usable * 3 / 4);
  } else {
    l.served = static_cast<uint64_t>(max_connections);
    if (!fits(l.served, usable)) {
      uint64_t most = 1, too_many = l.served;  // fits(most), !fits(too_many): n + 2 * overflow grows with n
      while (too_many - most > 1) {
        const uint64_t mid = most + (too_many - most) / 2;
        (fits(mid, usable) ? most : too_many) = mid;
      }
      throw ConfigError(detail::concat(
          "serve.max_connections=", max_connections, " needs ", l.served + 2 * overflowOf(l.served) + kReserved,
          " file descriptors (with up to ", 2 * overflowOf(l.served), " connections over the limit and ", kReserved,
          " for the process), more than the open-file limit (ulimit -n) of ", open_files,
          ": set serve.max_connections to at most ", most, " (or 0 for the default), or raise the limit"));
    }
  }
  l.overflow = overflowOf(l.served);
  return l;
}

uint64_t openFileLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return uint64_t{1} << 20;
  return static_cast<uint64_t>(rl.rlim_cur);
}

// Declaration order is destruction order reversed: the io_context goes
// before what the sessions it still holds refer to (registry, context).
// One of `engine` (classification) and `kg_engine` is set, and the batcher
// and service of that one exist.
struct Server::State {
  State(const trainer::ServeConfig& c, Engine* e, KgEngine* kg_e)
      : config(c),
        engine(e),
        kg_engine(kg_e),
        limits(serve::connectionLimits(c.max_connections, openFileLimit())),
        cache(e != nullptr ? static_cast<size_t>(std::max<int64_t>(0, c.cache_entries)) : 0),
        kg_cache(kg_e != nullptr ? static_cast<size_t>(std::max<int64_t>(0, c.cache_entries)) : 0),
        batcher(e != nullptr ? std::make_unique<Batcher>(*e, batcherOptions(c), metrics) : nullptr),
        kg_batcher(kg_e != nullptr ? std::make_unique<KgBatcher>(kgRun(*kg_e), batcherOptions(c), metrics) : nullptr),
        prepare_pool(std::make_unique<asio::thread_pool>(static_cast<size_t>(std::max<int64_t>(1, c.prepare_threads)))),
        classify(e != nullptr ? std::make_unique<ClassifyService>(*e, *batcher, cache, metrics,
                                                                  prepare_pool->get_executor())
                              : nullptr),
        kg(kg_e != nullptr ? std::make_unique<KgService>(*kg_e, *kg_batcher, kg_cache, metrics) : nullptr),
        context(makeContext(c, requestLimits(c, kg_e != nullptr), classify.get(), kg.get(),
                            [this](const Session* s) { onClosed(s); })),
        acceptor(asio::make_strand(io)),
        drain_timer(io),
        retry_timer(acceptor.get_executor()) {}

  static RequestLimits requestLimits(const trainer::ServeConfig& c, bool kg) {
    RequestLimits l = RequestLimits::from(c);
    l.api = kg ? Api::kKgCompletion : Api::kClassify;
    return l;
  }
  Session::Context makeContext(const trainer::ServeConfig& c, const RequestLimits& l, ClassifyService* cs,
                               KgService* ks, std::function<void(const Session*)> closed) {
    Session::Context base{l, metrics, cs, draining, std::move(closed)};
    base.kg = ks;
    return sessionContext(c, std::move(base), limits.served);
  }

  void accept();
  void onAccept(const boost::system::error_code& ec, tcp::socket socket);
  void acceptFailed(const boost::system::error_code& ec);
  void admit(tcp::socket socket);
  void overLimit();
  void requestStop();
  void beginDrain();
  void waitForSignal();
  void onClosed(const Session* session);
  void loop();

  const trainer::ServeConfig config;
  Engine* engine;
  KgEngine* kg_engine;
  const ConnectionLimits limits;
  Metrics metrics;
  std::atomic<bool> draining{false};
  LruCache cache;
  KgCache kg_cache;
  std::unique_ptr<Batcher> batcher;
  std::unique_ptr<KgBatcher> kg_batcher;
  std::unique_ptr<asio::thread_pool> prepare_pool;  // Engine::prepare, off the I/O threads
  std::unique_ptr<ClassifyService> classify;
  std::unique_ptr<KgService> kg;
  SessionRegistry registry;
  std::atomic<bool> stop_requested{false};
  std::atomic<bool> destroying{false};
  bool ran = false;
  Session::Context context;
  asio::io_context io;
  tcp::acceptor acceptor;
  asio::steady_timer drain_timer;
  asio::steady_timer retry_timer;
  std::unique_ptr<asio::signal_set> signals;
  // Connections open, within serve.max_connections and over it (from the
  // acceptor's strand up, from the sessions' destructors down).
  std::atomic<size_t> served{0};
  std::atomic<size_t> overflow{0};
  // On the acceptor's strand: the overflow connections oldest first, the
  // wait before the next accept after a failed one, and the log throttles.
  std::deque<std::weak_ptr<Session>> overflow_sessions;
  std::chrono::milliseconds retry_after{0};
  LogThrottle over_limit_log{kLogPeriod};
  LogThrottle accept_error_log{kLogPeriod};
};

void Server::State::accept() {
  acceptor.async_accept(asio::make_strand(io), [this](const boost::system::error_code& ec, tcp::socket socket) {
    onAccept(ec, std::move(socket));
  });
}

void Server::State::onAccept(const boost::system::error_code& ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || draining.load()) return;
  if (ec) return acceptFailed(ec);
  retry_after = std::chrono::milliseconds(0);
  admit(std::move(socket));
  accept();
}

// Out of file descriptors (EMFILE, ENFILE) and the like: back off (10 ms,
// doubling up to 1 s) instead of spinning, and log at most a line per 10 s.
void Server::State::acceptFailed(const boost::system::error_code& ec) {
  metrics.countAcceptError();
  retry_after = std::clamp(retry_after * 2, kFirstRetry, kLongestRetry);
  if (auto n = accept_error_log.note(std::chrono::steady_clock::now())) {
    core::log::warn("serve: accept failed {} time(s) since the last such line: {}; retrying in {} ms "
                    "(backing off to 1 s; {} connection(s) open, serve.max_connections={}, open-file limit {})",
                    *n, ec.message(), retry_after.count(), served.load() + overflow.load(), limits.served,
                    openFileLimit());
  }
  retry_timer.expires_after(retry_after);
  retry_timer.async_wait([this](const boost::system::error_code& e) {
    if (!e && !draining.load()) accept();
  });
}

// On the acceptor's strand. Within serve.max_connections a connection is
// served; over it, up to `limits.overflow` more answer /healthz and /metrics
// and 503 (the oldest still waiting for a request is closed to make room
// for a new one); beyond twice that, a connection is closed at once.
void Server::State::admit(tcp::socket socket) {
  bool over = false;
  if (served.load() >= limits.served) {
    over = true;
    overLimit();
    if (overflow.load() >= limits.overflow) {
      while (!overflow_sessions.empty()) {
        auto oldest = overflow_sessions.front().lock();
        overflow_sessions.pop_front();
        if (oldest) {
          oldest->closeIfIdle();
          break;
        }
      }
    }
    if (overflow.load() >= 2 * limits.overflow) {
      boost::system::error_code ignored;
      socket.close(ignored);
      return;
    }
  }
  try {
    auto session = std::make_shared<Session>(std::move(socket), context, over);
    (over ? overflow : served).fetch_add(1);
    metrics.setConnections(static_cast<int64_t>(served.load() + overflow.load()));
    registry.add(session);
    if (over) {
      if (overflow_sessions.size() >= 4 * limits.overflow) {  // forget those that closed by themselves
        overflow_sessions.erase(std::remove_if(overflow_sessions.begin(), overflow_sessions.end(),
                                               [](const std::weak_ptr<Session>& w) { return w.expired(); }),
                                overflow_sessions.end());
      }
      overflow_sessions.push_back(session);
    }
    session->start();
  } catch (const std::exception& e) {
    metrics.countSessionError();
    core::log::warn("serve: could not start a connection: {}", e.what());
  }
}

// A connection over serve.max_connections: counted, and logged at most once per 10 s.
void Server::State::overLimit() {
  metrics.countOverLimit();
  if (auto n = over_limit_log.note(std::chrono::steady_clock::now())) {
    core::log::warn("serve: {} connection(s) over serve.max_connections={} since the last such line: they get "
                    "/healthz and /metrics, 503 for anything else, and are closed at once beyond {} of them "
                    "(at most one line per 10 s)",
                    *n, limits.served, 2 * limits.overflow);
  }
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
  (session->overflow() ? overflow : served).fetch_sub(1);
  metrics.setConnections(static_cast<int64_t>(served.load() + overflow.load()));
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
    : state_(std::make_unique<State>(config, &engine, nullptr)) {}

Server::Server(const trainer::ServeConfig& config, KgEngine& engine)
    : state_(std::make_unique<State>(config, nullptr, &engine)) {}

Server::~Server() {
  state_->destroying.store(true);
  state_->prepare_pool->join();  // what it still prepares goes to the batcher
  state_->batcher.reset();       // its last completions post into the io_context, which is still there
  state_->kg_batcher.reset();
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

const ConnectionLimits& Server::connectionLimits() const { return state_->limits; }

}  // namespace autoglm::launch::serve
