#include "parallel/data_parallel/bucket_assignment.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace autoglm::parallel::data_parallel {
namespace {

using Buckets = std::vector<std::vector<int64_t>>;

TEST(BucketAssignment, ReverseOrderUpToTheCap) {
  // 4 bytes per element: a 40-byte cap holds 10 elements.
  EXPECT_EQ(assignBuckets({3, 4, 5, 6}, 40), (Buckets{{3}, {2, 1}, {0}}));
  EXPECT_EQ(assignBuckets({1, 1, 1, 1}, 40), (Buckets{{3, 2, 1, 0}}));
  // Exactly full: 6 + 4 = 10 elements share one.
  EXPECT_EQ(assignBuckets({4, 6}, 40), (Buckets{{1, 0}}));
}

TEST(BucketAssignment, LargeParameterGetsABucketOfItsOwn) {
  EXPECT_EQ(assignBuckets({2, 100, 2}, 40), (Buckets{{2}, {1}, {0}}));
  EXPECT_EQ(assignBuckets({100}, 4), (Buckets{{0}}));
}

TEST(BucketAssignment, EveryParameterExactlyOnceForAnyCap) {
  const std::vector<int64_t> numels{7, 1, 0, 33, 5, 5, 1024, 2};
  for (int64_t cap : {int64_t{4}, int64_t{8}, int64_t{40}, int64_t{400}, int64_t{4000}, int64_t{1} << 30}) {
    std::vector<int> seen(numels.size(), 0);
    int64_t last = static_cast<int64_t>(numels.size());
    for (const auto& b : assignBuckets(numels, cap)) {
      ASSERT_FALSE(b.empty()) << "cap " << cap;
      int64_t elems = 0;
      for (int64_t i : b) {
        ++seen[static_cast<size_t>(i)];
        EXPECT_LT(i, last) << "cap " << cap << ": not in reverse order";
        last = i;
        elems += numels[static_cast<size_t>(i)];
      }
      if (b.size() > 1) {
        EXPECT_LE(elems * 4, cap) << "cap " << cap;
      }
    }
    for (int s : seen) EXPECT_EQ(s, 1) << "cap " << cap;
  }
}

TEST(BucketAssignment, EmptyAndTooSmall) {
  EXPECT_TRUE(assignBuckets({}, 1024).empty());
  EXPECT_THROW(assignBuckets({1}, 3), ConfigError);
}

}  // namespace
}  // namespace autoglm::parallel::data_parallel
