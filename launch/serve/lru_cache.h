#pragma once
// The server's cache of recent results: exact key -> value (a text's
// Prediction; a normalised knowledge-graph query's KgAnswer), the least
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

// Instantiated (lru_cache.cc) for Prediction and KgAnswer.
template <class Value>
class BasicLruCache {
 public:
  explicit BasicLruCache(size_t capacity);
  BasicLruCache(const BasicLruCache&) = delete;
  BasicLruCache& operator=(const BasicLruCache&) = delete;

  // The value stored for exactly `text` (and marks it most recently used).
  std::optional<Value> get(std::string_view text);
  // Stores (or replaces) the value of `text`, evicting the least recently used entry when full.
  void put(std::string_view text, const Value& prediction);

  size_t size() const;
  size_t capacity() const { return capacity_; }

 private:
  using Entry = std::pair<std::string, Value>;

  const size_t capacity_;
  mutable std::mutex mu_;
  std::list<Entry> order_;  // most recently used first
  // Keys view the strings inside order_'s nodes, which never move.
  std::unordered_map<std::string_view, typename std::list<Entry>::iterator> index_;
};

using LruCache = BasicLruCache<Prediction>;

}  // namespace autoglm::launch::serve
