#pragma once
// The server's counters, rendered for GET /metrics in the Prometheus text
// format 0.0.4:
//   autoglm_requests_total{status="200"}  requests answered, by HTTP status
//   autoglm_request_duration_seconds       histogram, request read whole -> response ready to send (0.0005 .. 5 s)
//   autoglm_batch_size                     histogram of graphs per forward pass (Engine::classify)
//   autoglm_queue_depth                    gauge: texts admitted and waiting for a forward pass
//   autoglm_cache_hits_total, autoglm_cache_misses_total
//   autoglm_texts_total                    texts in valid classify requests
//   autoglm_kg_queries_total{side="tail"}  knowledge-graph queries with known names, by the side asked for
//   autoglm_session_errors_total           exceptions caught inside connections
//   autoglm_connections_open               gauge: connections open, over the limit included
//   autoglm_connections_over_limit_total   connections accepted over serve.max_connections
//   autoglm_accept_errors_total            failed accepts (out of file descriptors, ...)
// Every method is thread-safe.

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "launch/serve/histogram.h"

namespace autoglm::launch::serve {

class Metrics {
 public:
  Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  void countRequest(unsigned status, double seconds);
  void observeBatch(size_t graphs);
  void setQueueDepth(int64_t texts);
  void countCache(uint64_t hits, uint64_t misses);
  void countTexts(uint64_t texts);
  void countKgQuery(bool predict_head);
  void countSessionError();
  void setConnections(int64_t open);
  void countOverLimit();
  void countAcceptError();

  uint64_t requests(unsigned status) const;
  int64_t queueDepth() const { return queue_depth_.load(std::memory_order_relaxed); }
  uint64_t cacheHits() const { return cache_hits_.load(std::memory_order_relaxed); }
  uint64_t cacheMisses() const { return cache_misses_.load(std::memory_order_relaxed); }
  uint64_t texts() const { return texts_.load(std::memory_order_relaxed); }
  uint64_t kgQueries(bool predict_head) const {
    return kg_queries_[predict_head ? 1 : 0].load(std::memory_order_relaxed);
  }
  uint64_t sessionErrors() const { return session_errors_.load(std::memory_order_relaxed); }
  int64_t connections() const { return connections_.load(std::memory_order_relaxed); }
  uint64_t overLimit() const { return over_limit_.load(std::memory_order_relaxed); }
  uint64_t acceptErrors() const { return accept_errors_.load(std::memory_order_relaxed); }
  const Histogram& batchSizes() const { return batch_size_; }

  // Everything above as text format 0.0.4, with HELP and TYPE lines.
  std::string render() const;

 private:
  mutable std::mutex mu_;
  std::map<unsigned, uint64_t> requests_;  // by status, under mu_
  Histogram duration_;
  Histogram batch_size_;
  std::atomic<int64_t> queue_depth_{0};
  std::atomic<uint64_t> cache_hits_{0};
  std::atomic<uint64_t> cache_misses_{0};
  std::atomic<uint64_t> texts_{0};
  std::atomic<uint64_t> kg_queries_[2] = {{0}, {0}};  // tail, head
  std::atomic<uint64_t> session_errors_{0};
  std::atomic<int64_t> connections_{0};
  std::atomic<uint64_t> over_limit_{0};
  std::atomic<uint64_t> accept_errors_{0};
};

// The content type of render()'s text.
inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace autoglm::launch::serve
