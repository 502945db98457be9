#pragma once
// Settings of `autoglm serve` (YAML section `serve:`; launch/serve/server.h
// says what each does) and of inference (`infer:`). They live in the
// experiment config so that a checkpoint carries them and
// `autoglm serve --checkpoint DIR --set serve.max_batch=32` overrides them.
// Header-only: it needs core/yaml_config.h and nothing else.

#include <cstdint>
#include <string>

#include "core/yaml_config.h"

namespace autoglm::trainer {

struct ServeConfig {
  std::string host = "127.0.0.1";
  int64_t port = 8080;               // 0: any free port (printed when listening)
  int64_t threads = 4;               // I/O threads: HTTP, /healthz, /metrics
  int64_t prepare_threads = 4;       // threads that tokenise and build graphs (Engine::prepare)
  int64_t max_connections = 0;       // served at once; 0: from the open-file limit (launch/serve/server.h)
  double idle_timeout_s = 30.0;      // a connection's wait for the first byte of a request
  double read_timeout_s = 30.0;      // a request (header and body) from its first byte
  double write_timeout_s = 30.0;     // a response
  int64_t max_batch = 64;            // graphs per forward pass; 1 turns dynamic batching off
  double max_wait_ms = 2.0;          // how long the first text of a batch waits for others
  int64_t queue_capacity = 1024;     // texts waiting for the model; beyond it requests get 503
  int64_t cache_entries = 4096;      // LRU cache of recent results; 0 = off
  int64_t max_body_bytes = 1 << 20;  // larger bodies get 413
  int64_t max_texts = 256;           // texts per request
  int64_t max_text_bytes = 65536;    // bytes per text
  double drain_timeout_s = 30.0;     // SIGTERM: how long requests in flight may take to finish

  template <class V>
  void visit(V& v) {
    v.field("host", host, core::check::nonEmpty());
    v.field("port", port, core::check::between<int64_t>(0, 65535));
    v.field("threads", threads, core::check::between<int64_t>(1, 256));
    v.field("prepare_threads", prepare_threads, core::check::between<int64_t>(1, 256));
    v.field("max_connections", max_connections, core::check::between<int64_t>(0, 1 << 20));
    v.field("idle_timeout_s", idle_timeout_s, timeout());
    v.field("read_timeout_s", read_timeout_s, timeout());
    v.field("write_timeout_s", write_timeout_s, timeout());
    v.field("max_batch", max_batch, core::check::atLeast<int64_t>(1));
    v.field("max_wait_ms", max_wait_ms, core::check::atLeast(0.0));
    v.field("queue_capacity", queue_capacity, core::check::atLeast<int64_t>(1));
    v.field("cache_entries", cache_entries, core::check::atLeast<int64_t>(0));
    v.field("max_body_bytes", max_body_bytes, core::check::atLeast<int64_t>(64));
    v.field("max_texts", max_texts, core::check::atLeast<int64_t>(1));
    v.field("max_text_bytes", max_text_bytes, core::check::atLeast<int64_t>(1));
    v.field("drain_timeout_s", drain_timeout_s, core::check::greaterThan(0.0));
  }

  // A timeout from 1 ms to a day.
  static core::Check<double> timeout() { return core::check::between(0.001, 86400.0); }
};

struct InferConfig {
  // Early exit (model.early_exit): a graph leaves at the first exit whose
  // largest class probability reaches this; 1.0 runs every block.
  double exit_threshold = 1.0;

  template <class V>
  void visit(V& v) {
    v.field("exit_threshold", exit_threshold, core::check::between(0.0, 1.0));
  }
};

}  // namespace autoglm::trainer
