#include "launch/serve/lru_cache.h"

#include "launch/serve/kg_engine.h"

namespace autoglm::launch::serve {

template <class Value>
BasicLruCache<Value>::BasicLruCache(size_t capacity) : capacity_(capacity) { index_.reserve(capacity); }

template <class Value>
std::optional<Value> BasicLruCache<Value>::get(std::string_view text) {
  if (capacity_ == 0) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = index_.find(text);
  if (it == index_.end()) return std::nullopt;
  order_.splice(order_.begin(), order_, it->second);
  return it->second->second;
}

template <class Value>
void BasicLruCache<Value>::put(std::string_view text, const Value& prediction) {
  if (capacity_ == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = index_.find(text);
  if (it != index_.end()) {
    it->second->second = prediction;
    order_.splice(order_.begin(), order_, it->second);
    return;
  }
  if (order_.size() >= capacity_) {
    index_.erase(order_.back().first);
    order_.pop_back();
  }
  order_.emplace_front(std::string(text), prediction);
  index_.emplace(order_.front().first, order_.begin());
}

template <class Value>
size_t BasicLruCache<Value>::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return order_.size();
}

template class BasicLruCache<Prediction>;
template class BasicLruCache<KgAnswer>;

}  // namespace autoglm::launch::serve
