#pragma once
// The HTTP server of `autoglm serve` (Boost.Beast over Boost.Asio):
//
//   POST /v1/classify  {"texts": ["...", ...]}
//        -> 200 {"results": [{"label": "<name>", "probability": p,
//                "probabilities": {"<label>": p, ...}, "exit_block": k,
//                "cached": bool}, ...]}            (in input order)
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
//   threads            threads running the io_context: HTTP and Engine::prepare
//   max_batch          texts per Engine::classify (1: no batching)
//   max_wait_ms        how long the first queued text waits for a batch to fill
//   queue_capacity     texts being prepared or queued; beyond it 503
//   cache_entries      LRU cache of results by exact text; 0 = off
//   max_body_bytes, max_texts, max_text_bytes   request limits (400/413)
//   drain_timeout_s    how long stop() lets the requests in flight finish
//
// Connections are HTTP/1.1 keep-alive, each served by its own strand, with
// read and write timeouts (session.h).
//
// stop() drains: the server stops accepting (new connections are refused),
// closes the keep-alive connections that wait for a request, answers every
// request it has already read (with Connection: close), and run() returns
// once the last connection has closed or after drain_timeout_s (what is left
// is then dropped).

#include <cstdint>
#include <memory>

#include "launch/serve/engine.h"
#include "launch/serve/metrics.h"
#include "trainer/config/serve_config.h"

namespace autoglm::launch::serve {

class Server {
 public:
  // `engine` must outlive the Server. Starts the batching thread.
  Server(const trainer::ServeConfig& config, Engine& engine);
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

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace autoglm::launch::serve
