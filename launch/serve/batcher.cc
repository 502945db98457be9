#include "launch/serve/batcher.h"

#include <utility>

#include "core/error.h"
#include "core/log.h"
#include "launch/serve/kg_engine.h"

namespace autoglm::launch::serve {

template <class Result>
struct BasicBatcher<Result>::Job {
  std::vector<std::shared_ptr<const PreparedInput>> inputs;
  std::vector<Result> predictions;
  size_t remaining = 0;
  std::exception_ptr error;
  Done done;
  std::chrono::steady_clock::time_point arrived;
};

template <class Result>
BasicBatcher<Result>::Reservation::Reservation(Reservation&& other) noexcept
    : owner_(other.owner_), texts_(other.texts_) {
  other.owner_ = nullptr;
}

template <class Result>
typename BasicBatcher<Result>::Reservation& BasicBatcher<Result>::Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    if (owner_ != nullptr) owner_->release(texts_);
    owner_ = std::exchange(other.owner_, nullptr);
    texts_ = other.texts_;
  }
  return *this;
}

template <class Result>
BasicBatcher<Result>::Reservation::~Reservation() {
  if (owner_ != nullptr) owner_->release(texts_);
}

template <class Result>
BasicBatcher<Result>::BasicBatcher(Run run, const Options& options, Metrics& metrics)
    : run_(std::move(run)), options_(options), metrics_(metrics) {
  AUTOGLM_CHECK(options_.max_batch >= 1, "Batcher: max_batch must be at least 1, got ", options_.max_batch);
  AUTOGLM_CHECK(options_.capacity >= 1, "Batcher: capacity must be at least 1, got ", options_.capacity);
  thread_ = std::thread([this] { loop(); });
}

template <class Result>
BasicBatcher<Result>::~BasicBatcher() {
  stop();
  thread_.join();
}

template <class Result>
void BasicBatcher<Result>::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
}

template <class Result>
std::optional<typename BasicBatcher<Result>::Reservation> BasicBatcher<Result>::reserve(size_t texts) {
  std::lock_guard<std::mutex> lock(mu_);
  if (reserved_ + queue_.size() + texts > options_.capacity) return std::nullopt;
  reserved_ += texts;
  metrics_.setQueueDepth(static_cast<int64_t>(reserved_ + queue_.size()));
  return Reservation(this, texts);
}

template <class Result>
void BasicBatcher<Result>::release(size_t texts) {
  std::lock_guard<std::mutex> lock(mu_);
  reserved_ -= texts;
  metrics_.setQueueDepth(static_cast<int64_t>(reserved_ + queue_.size()));
}

template <class Result>
void BasicBatcher<Result>::submit(Reservation reservation, std::vector<std::shared_ptr<const PreparedInput>> inputs,
                                  Done done) {
  AUTOGLM_CHECK(reservation.owner_ == this && reservation.texts_ == inputs.size(), "Batcher::submit: ",
                inputs.size(), " inputs for a reservation of ", reservation.texts_, " texts");
  auto job = std::make_shared<Job>();
  job->remaining = inputs.size();
  job->predictions.resize(inputs.size());
  job->inputs = std::move(inputs);
  job->done = std::move(done);
  job->arrived = std::chrono::steady_clock::now();
  if (job->remaining == 0) {
    complete(*job);
    return;
  }
  bool stopped = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    reserved_ -= reservation.texts_;
    reservation.owner_ = nullptr;
    stopped = stopping_;
    if (!stopped) {
      for (size_t i = 0; i < job->remaining; ++i) queue_.push_back({job, i});
    }
    metrics_.setQueueDepth(static_cast<int64_t>(reserved_ + queue_.size()));
  }
  if (stopped) {
    job->error = std::make_exception_ptr(Error("the server is stopping; the texts were not classified"));
    complete(*job);
    return;
  }
  cv_.notify_one();
}

template <class Result>
size_t BasicBatcher<Result>::depth() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reserved_ + queue_.size();
}

template <class Result>
void BasicBatcher<Result>::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) break;
    // A lone request goes at once: waiting for company that is not there only
    // adds max_wait to its latency. Texts of several requests in the queue
    // (they came while the engine was busy, or together) mean clients are
    // sending concurrently, so the batch waits for more, up to max_wait after
    // its oldest text came. A request's texts sit together in the queue.
    const bool company = queue_.front().job != queue_.back().job;
    if (company && options_.max_wait.count() > 0 && queue_.size() < options_.max_batch) {
      const auto deadline = queue_.front().job->arrived + options_.max_wait;
      cv_.wait_until(lock, deadline, [&] { return stopping_ || queue_.size() >= options_.max_batch; });
      if (stopping_) break;
    }
    std::vector<Item> batch = takeBatch(lock);
    lock.unlock();
    runBatch(batch);
    lock.lock();
  }
  std::deque<Item> left;
  left.swap(queue_);
  metrics_.setQueueDepth(static_cast<int64_t>(reserved_));
  lock.unlock();
  const auto error = std::make_exception_ptr(Error("the server stopped before the texts were classified"));
  for (Item& item : left) {
    if (!item.job->error) item.job->error = error;
    if (--item.job->remaining == 0) complete(*item.job);
  }
}

template <class Result>
std::vector<typename BasicBatcher<Result>::Item> BasicBatcher<Result>::takeBatch(std::unique_lock<std::mutex>& lock) {
  const size_t n = std::min(options_.max_batch, queue_.size());
  std::vector<Item> batch(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + n));
  queue_.erase(queue_.begin(), queue_.begin() + n);
  metrics_.setQueueDepth(static_cast<int64_t>(reserved_ + queue_.size()));
  return batch;
}

template <class Result>
void BasicBatcher<Result>::runBatch(const std::vector<Item>& batch) {
  std::vector<const PreparedInput*> inputs;
  inputs.reserve(batch.size());
  for (const Item& item : batch) inputs.push_back(item.job->inputs[item.index].get());
  metrics_.observeBatch(batch.size());
  std::vector<Result> out;
  std::exception_ptr error;
  try {
    out = run_(inputs);
    if (out.size() != inputs.size()) {
      throw Error(detail::concat("the model returned ", out.size(), " results for a batch of ", inputs.size(),
                                 " inputs"));
    }
  } catch (...) {
    error = std::current_exception();
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    Job& job = *batch[i].job;
    job.inputs[batch[i].index].reset();
    if (error) {
      if (!job.error) job.error = error;
    } else {
      job.predictions[batch[i].index] = std::move(out[i]);
    }
    if (--job.remaining == 0) complete(job);
  }
}

template <class Result>
void BasicBatcher<Result>::complete(Job& job) {
  Done done = std::move(job.done);
  try {
    if (job.error) {
      done({}, job.error);
    } else {
      done(std::move(job.predictions), nullptr);
    }
  } catch (const std::exception& e) {
    core::log::error("serve: a batch completion threw: {}", e.what());
  } catch (...) {
    core::log::error("serve: a batch completion threw a non-standard exception");
  }
}

template class BasicBatcher<Prediction>;
template class BasicBatcher<KgAnswer>;

Batcher::Batcher(Engine& engine, const Options& options, Metrics& metrics)
    : BasicBatcher<Prediction>(
          [&engine](const std::vector<const PreparedInput*>& batch) { return engine.classify(batch); }, options,
          metrics) {}

}  // namespace autoglm::launch::serve
