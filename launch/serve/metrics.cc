#include "launch/serve/metrics.h"

#include <sstream>

namespace autoglm::launch::serve {
namespace {

void header(std::ostringstream& os, const char* name, const char* type, const char* help) {
  os << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
}

template <typename T>
void scalar(std::ostringstream& os, const char* name, const char* type, const char* help, T value) {
  header(os, name, type, help);
  os << name << " " << value << "\n";
}

}  // namespace

Metrics::Metrics()
    : duration_({0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0}),
      batch_size_({1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}) {}

void Metrics::countRequest(unsigned status, double seconds) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++requests_[status];
  }
  duration_.observe(seconds);
}

void Metrics::observeBatch(size_t graphs) { batch_size_.observe(static_cast<double>(graphs)); }

void Metrics::setQueueDepth(int64_t texts) { queue_depth_.store(texts, std::memory_order_relaxed); }

void Metrics::countCache(uint64_t hits, uint64_t misses) {
  cache_hits_.fetch_add(hits, std::memory_order_relaxed);
  cache_misses_.fetch_add(misses, std::memory_order_relaxed);
}

void Metrics::countTexts(uint64_t texts) { texts_.fetch_add(texts, std::memory_order_relaxed); }

void Metrics::countKgQuery(bool predict_head) {
  kg_queries_[predict_head ? 1 : 0].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::countSessionError() { session_errors_.fetch_add(1, std::memory_order_relaxed); }

void Metrics::setConnections(int64_t open) { connections_.store(open, std::memory_order_relaxed); }

void Metrics::countOverLimit() { over_limit_.fetch_add(1, std::memory_order_relaxed); }

void Metrics::countAcceptError() { accept_errors_.fetch_add(1, std::memory_order_relaxed); }

uint64_t Metrics::requests(unsigned status) const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = requests_.find(status);
  return it == requests_.end() ? 0 : it->second;
}

std::string Metrics::render() const {
  std::ostringstream os;
  header(os, "autoglm_requests_total", "counter", "HTTP requests answered, by status code.");
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [status, n] : requests_) {
      os << "autoglm_requests_total{status=\"" << status << "\"} " << n << "\n";
    }
  }
  header(os, "autoglm_request_duration_seconds", "histogram", "Time from a request read whole to its response ready to send.");
  os << duration_.render("autoglm_request_duration_seconds");
  header(os, "autoglm_batch_size", "histogram", "Inputs (graphs or knowledge-graph queries) per forward pass.");
  os << batch_size_.render("autoglm_batch_size");
  scalar(os, "autoglm_queue_depth", "gauge", "Inputs (texts or knowledge-graph queries) waiting for a forward pass.", queueDepth());
  scalar(os, "autoglm_cache_hits_total", "counter", "Texts answered from the result cache.", cacheHits());
  scalar(os, "autoglm_cache_misses_total", "counter", "Texts not in the result cache.", cacheMisses());
  scalar(os, "autoglm_texts_total", "counter", "Texts in valid classify requests.", texts());
  header(os, "autoglm_kg_queries_total", "counter", "Knowledge-graph queries with known names, by the side asked for.");
  os << "autoglm_kg_queries_total{side=\"tail\"} " << kgQueries(false) << "\n";
  os << "autoglm_kg_queries_total{side=\"head\"} " << kgQueries(true) << "\n";
  scalar(os, "autoglm_session_errors_total", "counter", "Exceptions caught inside connections.", sessionErrors());
  scalar(os, "autoglm_connections_open", "gauge", "Connections open, those over serve.max_connections included.",
         connections());
  scalar(os, "autoglm_connections_over_limit_total", "counter",
         "Connections accepted over serve.max_connections (answered 503 or closed).", overLimit());
  scalar(os, "autoglm_accept_errors_total", "counter", "Failed accepts (out of file descriptors and the like).",
         acceptErrors());
  return os.str();
}

}  // namespace autoglm::launch::serve
