// The result cache: exact-text hits, least-recently-used eviction, 0 = off,
// and a consistent size under concurrent use.

#include "launch/serve/lru_cache.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace autoglm::launch::serve {
namespace {

Prediction pred(int64_t label) {
  Prediction p;
  p.label = label;
  p.probabilities = {0.25f, 0.75f};
  p.exit_block = label + 1;
  return p;
}

TEST(LruCache, HitsOnlyTheExactText) {
  LruCache cache(4);
  cache.put("hello", pred(1));
  ASSERT_TRUE(cache.get("hello"));
  EXPECT_EQ(cache.get("hello")->label, 1);
  EXPECT_EQ(cache.get("hello")->exit_block, 2);
  EXPECT_FALSE(cache.get("Hello"));
  EXPECT_FALSE(cache.get("hello "));
}

TEST(LruCache, EvictsTheLeastRecentlyUsed) {
  LruCache cache(2);
  cache.put("a", pred(0));
  cache.put("b", pred(1));
  ASSERT_TRUE(cache.get("a"));  // b is now the least recently used
  cache.put("c", pred(0));
  EXPECT_TRUE(cache.get("a"));
  EXPECT_FALSE(cache.get("b"));
  EXPECT_TRUE(cache.get("c"));
  EXPECT_EQ(cache.size(), 2u);
}

TEST(LruCache, PutReplacesAndRefreshes) {
  LruCache cache(2);
  cache.put("a", pred(0));
  cache.put("b", pred(0));
  cache.put("a", pred(1));  // replaces, and a becomes the most recent
  cache.put("c", pred(0));
  ASSERT_TRUE(cache.get("a"));
  EXPECT_EQ(cache.get("a")->label, 1);
  EXPECT_FALSE(cache.get("b"));
  EXPECT_EQ(cache.size(), 2u);
}

TEST(LruCache, CapacityZeroKeepsNothing) {
  LruCache cache(0);
  cache.put("a", pred(0));
  EXPECT_FALSE(cache.get("a"));
  EXPECT_EQ(cache.size(), 0u);
}

TEST(LruCache, ConcurrentUseKeepsItWithinCapacity) {
  LruCache cache(16);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string key = "k" + std::to_string((i * 7 + t) % 40);
        if (auto hit = cache.get(key)) {
          EXPECT_EQ(hit->label, static_cast<int64_t>(key.size()));
        } else {
          cache.put(key, pred(static_cast<int64_t>(key.size())));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(cache.size(), 16u);
}

}  // namespace
}  // namespace autoglm::launch::serve
