#pragma once
// The HTTP server of `autoglm serve` (Boost.Beast over Boost.Asio):
//
//   POST /v1/classify  {"texts": ["...", ...]}
//        -> 200 {"results": [{"label": "<name>", "probability": p,
//                "probabilities": {"<label>": p, ...}, "exit_block": k,
//                "cached": bool}, ...]}            (in input order)
//   POST /v1/kg/complete  {"head" | "tail": "<entity>", "relation": "<relation>",
//                          "k": 10, "filter": true}     (a kg_completion checkpoint)
//        -> 200 {"query": {...}, "entities": [{"entity": "<name>", "id": id,
//                "score": s}, ...], "filtered": bool, "cached": bool}
//           (kg_service.h; k in 1..1000, kg_request.h); a server answers
//           one of the two POST routes, the other is 404
//   GET  /healthz   -> 200 {"status":"ok"}; 503 {"status":"draining"} once stopping
//   GET  /metrics   -> Prometheus text format 0.0.4 (launch/serve/metrics.h)
//
// Errors are JSON {"error": "..."} naming the problem (request_handler.h):
// 400 bad input, 404, 405, 413 body over serve.max_body_bytes, 415, 431,
// 500 when the model fails (the server keeps serving), 503 when the queue of
// texts waiting for the model is full.
//
// How ServeConfig is used:
//   host, port         where listen() binds; port 0 picks a free port
//   threads            threads running the io_context: HTTP, /healthz, /metrics
//   prepare_threads    threads running Engine::prepare (tokenising, parsing), so
//                      that large texts never hold up /healthz and /metrics
//   max_connections    connections served at once (0: 3/4 of the open-file
//                      limit less 64, at most 16384; see connectionLimits()).
//                      Over it, up to `overflow` more connections are
//                      accepted: they answer /healthz and /metrics as usual,
//                      503 to anything else, and close after one response or
//                      1 s without a request (when they are all taken, the
//                      oldest still waiting is closed for a new one); beyond
//                      twice `overflow` a connection is closed at once. None of
//                      this logs a line per connection: one line per 10 s
//                      with a count, and autoglm_connections_over_limit_total.
//   idle_timeout_s, read_timeout_s, write_timeout_s   per connection (session.h)
//   max_batch          texts per Engine::classify (1: no batching)
//   max_wait_ms        how long the first queued text waits for a batch to fill
//   queue_capacity     texts being prepared or queued; beyond it 503
//   cache_entries      LRU cache of results by exact text; 0 = off
//   max_body_bytes, max_texts, max_text_bytes   request limits (400/413)
//   drain_timeout_s    how long stop() lets the requests in flight finish
//
// Connections are HTTP/1.1 keep-alive, each served by its own strand, with
// idle, read and write timeouts (session.h). A failing accept (out of file
// descriptors, say) is retried after 10 ms, doubling up to 1 s, and logged at
// most once per 10 s with a count.
//
// stop() drains: the server stops accepting (new connections are refused),
// closes the keep-alive connections that wait for a request, answers every
// request it has already read (with Connection: close), and run() returns
// once the last connection has closed or after drain_timeout_s (what is left
// is then dropped).

#include <cstdint>
#include <memory>

#include "launch/serve/engine.h"
#include "launch/serve/kg_engine.h"
#include "launch/serve/metrics.h"
#include "trainer/config/serve_config.h"

namespace autoglm::launch::serve {

// How many connections the server takes. Each holds a file descriptor, and
// the process needs some of its own (64 are kept for it).
struct ConnectionLimits {
  uint64_t served = 0;      // serve.max_connections, or its default
  uint64_t overflow = 0;    // over `served`: served/16, within [8, 256]; hard limit twice that
  uint64_t open_files = 0;  // the open-file limit it was derived from
};

// `max_connections` 0 gives the default for `open_files`. Throws ConfigError
// naming serve.max_connections, the descriptors it needs and the largest
// value that fits when `served` plus twice `overflow` plus 64 exceeds
// `open_files`.
ConnectionLimits connectionLimits(int64_t max_connections, uint64_t open_files);

// The soft RLIMIT_NOFILE of this process (2^20 when unlimited).
uint64_t openFileLimit();

class Server {
 public:
  // `engine` must outlive the Server. Starts the batching thread and the
  // prepare pool. Throws ConfigError when serve.max_connections does not fit
  // the open-file limit (connectionLimits()).
  Server(const trainer::ServeConfig& config, Engine& engine);
  // Knowledge-graph completion (POST /v1/kg/complete) over `engine`, with
  // the same batching, cache, limits and metrics; the batcher calls
  // KgEngine::complete. serve.prepare_threads are unused.
  Server(const trainer::ServeConfig& config, KgEngine& engine);
  // run() must have returned. Waits for a forward pass in progress.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port and listens; returns the bound port (the chosen one for
  // port 0). Throws autoglm::Error naming host:port when it cannot (address
  // in use, unknown host, no permission).
  uint16_t listen();

  // Makes SIGINT and SIGTERM call stop(); a second signal ends run() at once
  // without waiting for the drain. Call before run().
  void stopOnSignals();

  // Serves on `threads` threads (this one among them) until stop() has
  // drained; calls listen() first if it has not been called. Once per Server.
  void run();

  // Starts the drain and returns at once. Thread-safe; idempotent; may come
  // before run() (then run() drains at once and returns).
  void stop();

  bool draining() const;
  const Metrics& metrics() const;
  const ConnectionLimits& connectionLimits() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace autoglm::launch::serve
