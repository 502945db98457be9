#pragma once
// Dynamic batching: texts of many requests, prepared (Engine::prepare) on the
// server's threads, wait in one bounded queue; one thread of the Batcher's
// own takes up to max_batch of them, oldest first, runs the model on them
// (Engine::classify for texts, KgEngine::complete for knowledge-graph queries:
// BasicBatcher<Result> is the same machinery over either result) and completes
// each request once all of its inputs are done. A request's inputs may be
// split over several forward passes. "Texts" below are the inputs of either.
//
// The thread looks at the queue only when no forward pass runs. When the
// queue holds the texts of one request only, they go at once (a lone client
// never waits for company). When it holds texts of several requests (they
// came while the engine was busy, or together), the batch waits for more, up
// to max_wait after its oldest text came (0: a batch is whatever is queued
// when the thread comes for it); a batch of max_batch goes at once.
//
// Admission is separate from submission so that a full queue is refused
// before the texts are prepared: reserve(n) takes n of the capacity slots or
// returns nullopt (the caller answers 503), and the Reservation is handed to
// submit() with the prepared inputs, or dropped (the slots come back).

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "launch/serve/engine.h"
#include "launch/serve/metrics.h"

namespace autoglm::launch::serve {

struct BatcherOptions {
  size_t max_batch = 64;                  // inputs per forward pass, >= 1
  std::chrono::microseconds max_wait{0};  // how long the oldest queued input waits for others (several requests queued)
  size_t capacity = 1024;                 // texts reserved or queued, at most
};

// Instantiated (batcher.cc) for Prediction (classification) and KgAnswer
// (knowledge-graph completion, kg_engine.h).
template <class Result>
class BasicBatcher {
 public:
  using Options = BatcherOptions;

  // One forward pass: one result per input, in order. Called from the
  // batching thread only; may throw (every request in the batch gets the error).
  using Run = std::function<std::vector<Result>(const std::vector<const PreparedInput*>& batch)>;

  // Called once per submitted request from the batching thread: the
  // results in input order, or the error of a forward pass that held one
  // of its inputs (then `predictions` is empty). Must not block.
  using Done = std::function<void(std::vector<Result> predictions, std::exception_ptr error)>;

  // Capacity slots taken by reserve(); move-only; gives them back when
  // destroyed unless submit() took it.
  class Reservation {
   public:
    Reservation(Reservation&& other) noexcept;
    Reservation& operator=(Reservation&& other) noexcept;
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;
    ~Reservation();
    size_t texts() const { return texts_; }

   private:
    friend class BasicBatcher;
    Reservation(BasicBatcher* owner, size_t texts) : owner_(owner), texts_(texts) {}
    BasicBatcher* owner_;
    size_t texts_;
  };

  // Starts the batching thread. What `run` refers to and `metrics` must
  // outlive the batcher.
  BasicBatcher(Run run, const Options& options, Metrics& metrics);
  // stop(), then waits for the forward pass in progress and the thread.
  ~BasicBatcher();
  BasicBatcher(const BasicBatcher&) = delete;
  BasicBatcher& operator=(const BasicBatcher&) = delete;

  // Takes `texts` slots, or nullopt when the texts already reserved or queued
  // plus `texts` would exceed the capacity.
  std::optional<Reservation> reserve(size_t texts);
  // Queues `inputs` (as many as the reservation holds). `done` is called once,
  // from the batching thread (immediately, from this thread, for no inputs).
  void submit(Reservation reservation, std::vector<std::shared_ptr<const PreparedInput>> inputs, Done done);

  // Takes no new forward pass: once the one in progress (if any) is done,
  // what is queued, and what is submitted from now on, completes with an
  // error. Returns at once; thread-safe.
  void stop();

  // Texts reserved or queued, not yet in a forward pass.
  size_t depth() const;
  const Options& options() const { return options_; }

 private:
  struct Job;
  struct Item {
    std::shared_ptr<Job> job;
    size_t index;
  };

  void release(size_t texts);
  void loop();
  std::vector<Item> takeBatch(std::unique_lock<std::mutex>& lock);
  void runBatch(const std::vector<Item>& batch);
  void complete(Job& job);

  Run run_;
  const Options options_;
  Metrics& metrics_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;  // under mu_
  size_t reserved_ = 0;     // slots reserved, not yet submitted; under mu_
  bool stopping_ = false;   // under mu_
  std::thread thread_;
};

// Classification: Engine::classify over prepared texts.
class Batcher : public BasicBatcher<Prediction> {
 public:
  // `engine` and `metrics` must outlive the Batcher.
  Batcher(Engine& engine, const Options& options, Metrics& metrics);
};

}  // namespace autoglm::launch::serve
