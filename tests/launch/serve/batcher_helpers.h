#pragma once
// Test helpers for the batcher: submit a request of texts and wait for its
// outcome (with a time limit, so that a broken batcher fails a test instead
// of hanging it).

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "launch/serve/batcher.h"
#include "tests/launch/serve/fake_engine.h"

namespace autoglm::launch::serve::testing {

struct Outcome {
  std::vector<Prediction> predictions;
  std::string error;  // empty when it succeeded
};

// Submits `texts` as one request; the future is set from the batching thread.
inline std::future<Outcome> submit(Batcher& b, const std::vector<std::string>& texts) {
  auto reservation = b.reserve(texts.size());
  EXPECT_TRUE(reservation) << "no room for " << texts.size() << " texts";
  std::vector<std::shared_ptr<const PreparedInput>> inputs;
  for (const auto& t : texts) inputs.push_back(std::make_shared<FakeInput>(t));
  auto promise = std::make_shared<std::promise<Outcome>>();
  auto future = promise->get_future();
  b.submit(std::move(*reservation), std::move(inputs), [promise](std::vector<Prediction> p, std::exception_ptr e) {
    Outcome o;
    o.predictions = std::move(p);
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        o.error = ex.what();
      }
    }
    promise->set_value(std::move(o));
  });
  return future;
}

// The outcome, or (after 20 s) an error saying it never came; the batcher's
// destructor then completes what it still holds.
inline Outcome get(std::future<Outcome>& f) {
  if (f.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    ADD_FAILURE() << "the request was never completed";
    return Outcome{{}, "never completed"};
  }
  return f.get();
}

inline Batcher::Options options(size_t max_batch, std::chrono::microseconds max_wait, size_t capacity = 64) {
  Batcher::Options o;
  o.max_batch = max_batch;
  o.max_wait = max_wait;
  o.capacity = capacity;
  return o;
}

}  // namespace autoglm::launch::serve::testing
