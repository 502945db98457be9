// The chunk arithmetic of comm/chunked_bytes.h past 2 GiB, without allocating it.

#include <gtest/gtest.h>

#include <climits>

#include "comm/chunked_bytes.h"

namespace autoglm::comm {
namespace {

TEST(ChunkPlan, SmallSizes) {
  EXPECT_EQ(chunkCount(0, 7), 0);
  EXPECT_EQ(chunkCount(1, 7), 1);
  EXPECT_EQ(chunkCount(7, 7), 1);
  EXPECT_EQ(chunkCount(8, 7), 2);
  EXPECT_EQ(chunkAt(8, 7, 1).offset, 7);
  EXPECT_EQ(chunkAt(8, 7, 1).bytes, 1);
}

TEST(ChunkPlan, PastTwoGiBEveryChunkFitsAnIntAndTheOffsetsDoNot) {
  const int64_t chunk = int64_t{64} << 20;
  for (const int64_t total : {(int64_t{2} << 30) + 1, int64_t{5} << 30, (int64_t{9} << 30) + 12345}) {
    const int64_t n = chunkCount(total, chunk);
    int64_t covered = 0;
    for (int64_t i = 0; i < n; ++i) {
      const ChunkSpan c = chunkAt(total, chunk, i);
      ASSERT_EQ(c.offset, covered) << i;
      ASSERT_GT(c.bytes, 0);
      ASSERT_LE(c.bytes, INT_MAX);
      covered += c.bytes;
    }
    EXPECT_EQ(covered, total);
    EXPECT_GT(chunkAt(total, chunk, n - 1).offset, INT_MAX);  // an int offset would have wrapped
  }
}

}  // namespace
}  // namespace autoglm::comm
