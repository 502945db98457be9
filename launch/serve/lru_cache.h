#pragma once
// The server's cache of recent results: exact text -> Prediction, the least
// recently used entry evicted when full. Thread-safe (one mutex). A capacity
// of 0 turns it off: get() always misses and put() keeps nothing.

#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "launch/serve/engine.h"

namespace autoglm::launch::serve {

class LruCache {
 public:
  explicit LruCache(size_t capacity);
  LruCache(const LruCache&) = delete;
  LruCache& operator=(const LruCache&) = delete;

  // The prediction stored for exactly `text` (and marks it most recently used).
  std::optional<Prediction> get(std::string_view text);
  // Stores (or replaces) the prediction of `text`, evicting the least recently used entry when full.
  void put(std::string_view text, const Prediction& prediction);

  size_t size() const;
  size_t capacity() const { return capacity_; }

 private:
  using Entry = std::pair<std::string, Prediction>;

  const size_t capacity_;
  mutable std::mutex mu_;
  std::list<Entry> order_;  // most recently used first
  // Keys view the strings inside order_'s nodes, which never move.
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;
};

}  // namespace autoglm::launch::serve
