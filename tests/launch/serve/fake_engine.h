#pragma once
// A stand-in for the model in the serve tests. Deterministic answers:
//   label      = text length mod the number of labels
//   exit_block = 1 + (word count mod 2)
//   probabilities: 0.7 for the label, the rest shared evenly
// prepare("!!!") throws InputError, prepare("throw-int") throws an int (not a
// std::exception); classify() throws Error for a batch holding "boom".
// hold() makes classify() wait until release(), holdPrepare() makes
// prepare("slow") wait until release(); every call's batch size is recorded.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "launch/serve/engine.h"

namespace autoglm::launch::serve::testing {

struct FakeInput : PreparedInput {
  explicit FakeInput(std::string t) : text(std::move(t)) {}
  std::string text;
};

inline size_t wordCount(std::string_view text) {
  size_t words = 0;
  bool in_word = false;
  for (const char c : text) {
    const bool space = c == ' ' || c == '\t' || c == '\n';
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return words;
}

class FakeEngine : public Engine {
 public:
  explicit FakeEngine(std::vector<std::string> labels = {"neg", "neu", "pos"}) : labels_(std::move(labels)) {}
  ~FakeEngine() override { release(); }

  const std::vector<std::string>& labels() const override { return labels_; }

  std::shared_ptr<const PreparedInput> prepare(std::string_view text) const override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++prepares_;
    }
    cv_.notify_all();
    if (text == "slow") {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.notify_all();
      cv_.wait(lock, [&] { return !prepare_held_; });
    }
    if (text == "!!!") throw InputError("no tokens in the text");
    if (text == "throw-int") throw 42;
    return std::make_shared<FakeInput>(std::string(text));
  }

  std::vector<Prediction> classify(const std::vector<const PreparedInput*>& batch) override {
    std::unique_lock<std::mutex> lock(mu_);
    batch_sizes_.push_back(batch.size());
    cv_.notify_all();
    cv_.wait(lock, [&] { return !held_; });
    std::vector<Prediction> out;
    for (const PreparedInput* in : batch) {
      const auto& text = static_cast<const FakeInput*>(in)->text;
      if (text == "boom") throw Error("fake forward pass failed on 'boom'");
      out.push_back(expected(text));
    }
    return out;
  }

  Prediction expected(std::string_view text) const {
    Prediction p;
    const size_t n = labels_.size();
    p.label = static_cast<int64_t>(text.size() % n);
    p.exit_block = 1 + static_cast<int64_t>(wordCount(text) % 2);
    p.probabilities.assign(n, n > 1 ? 0.3f / static_cast<float>(n - 1) : 0.0f);
    p.probabilities[static_cast<size_t>(p.label)] = n > 1 ? 0.7f : 1.0f;
    return p;
  }

  void hold() {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = true;
  }
  // prepare("slow") waits until release() (a long text to tokenise and parse).
  void holdPrepare() {
    std::lock_guard<std::mutex> lock(mu_);
    prepare_held_ = true;
  }
  void release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      held_ = false;
      prepare_held_ = false;
    }
    cv_.notify_all();
  }
  // Waits (up to `limit`) until prepare() has been entered `calls` times.
  bool waitForPrepares(size_t calls, std::chrono::milliseconds limit = std::chrono::milliseconds(20000)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return prepares_ >= calls; });
  }
  // Waits (up to `limit`, so that a broken server fails the test instead of
  // hanging it) until classify() has been entered `calls` times.
  bool waitForCalls(size_t calls, std::chrono::milliseconds limit = std::chrono::milliseconds(20000)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return batch_sizes_.size() >= calls; });
  }

  std::vector<size_t> batchSizes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return batch_sizes_;
  }
  size_t classifyCalls() const { return batchSizes().size(); }
  size_t prepareCalls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return prepares_;
  }

 private:
  std::vector<std::string> labels_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool held_ = false;
  bool prepare_held_ = false;
  std::vector<size_t> batch_sizes_;
  mutable size_t prepares_ = 0;
};

}  // namespace autoglm::launch::serve::testing
