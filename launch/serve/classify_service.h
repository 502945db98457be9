#pragma once
// POST /v1/classify behind the sessions, for texts handleRequest() validated:
// each text is looked up in the cache; the others take slots in the
// batcher's queue (503 "queue full" at once when there are not enough), are
// prepared (Engine::prepare: tokenising and parsing, on the `prepare`
// executor, the server's prepare pool, so that the I/O threads stay free for
// /healthz, /metrics and reading requests) and queued; when the batcher has
// classified them all the reply is built and the results cached.
//
// Answers: 200 {"results": [{"label", "probability", "probabilities",
// "exit_block", "cached"}, ...]} in input order; 400 "texts[i]: ..." when
// Engine::prepare throws InputError; 503 queue full; 500 when
// Engine::classify (or prepare, with another error) throws or returns a
// prediction that does not fit the labels.

#include <boost/asio/any_io_executor.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "launch/serve/batcher.h"
#include "launch/serve/engine.h"
#include "launch/serve/lru_cache.h"
#include "launch/serve/metrics.h"
#include "launch/serve/reply.h"

namespace autoglm::launch::serve {

class ClassifyService {
 public:
  using Done = std::function<void(Reply)>;

  // Every argument must outlive the service; `prepare` runs Engine::prepare
  // (what is posted to it must run or be destroyed before the service goes).
  ClassifyService(Engine& engine, Batcher& batcher, LruCache& cache, Metrics& metrics,
                  boost::asio::any_io_executor prepare);

  // Answers `texts`. `done` runs exactly once: inside this call when the
  // answer is known at once (every text cached, 503), otherwise later
  // through boost::asio::post to `executor` (the connection's strand).
  void classify(std::vector<std::string> texts, const boost::asio::any_io_executor& executor, Done done);

 private:
  struct Pending;

  void prepareAndSubmit(const std::shared_ptr<Pending>& pending, Batcher::Reservation reservation,
                        const boost::asio::any_io_executor& executor);
  Reply finish(Pending& pending, std::vector<Prediction> predictions, std::exception_ptr error);

  Engine& engine_;
  Batcher& batcher_;
  LruCache& cache_;
  Metrics& metrics_;
  boost::asio::any_io_executor prepare_;
};

// What is wrong with `prediction` for an engine with `labels` labels
// (label out of range, wrong number of probabilities), or nullopt.
std::optional<std::string> checkPrediction(const Prediction& prediction, size_t labels);

// 200 {"results": [...]}: one entry per prediction, in order.
Reply resultsReply(const std::vector<std::string>& labels, const std::vector<Prediction>& predictions,
                   const std::vector<bool>& cached);

}  // namespace autoglm::launch::serve
