// Multi-rank tests of comm/chunked_bytes.h: gather to one rank, scatter and
// broadcast of byte strings of many sizes (0, 1, odd, several chunks) with
// small chunks, so that every transfer crosses chunk boundaries. Run at 1-4 ranks.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "comm/chunked_bytes.h"
#include "tests/mpi_test_main.h"

namespace autoglm::comm {
namespace {

using test::worldComm;

// Deterministic bytes of rank `r`, `n` long (every byte value occurs).
std::string bytesOf(int r, size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 31 + static_cast<size_t>(r) * 7) & 0xff);
  return s;
}

size_t sizeOf(int r, size_t base) { return base == 0 ? 0 : base + static_cast<size_t>(r) * 3; }

class ChunkedBytesTest : public ::testing::TestWithParam<std::tuple<size_t, int64_t>> {};

TEST_P(ChunkedBytesTest, GatherReachesOnlyTheRoot) {
  const auto [base, chunk] = GetParam();
  auto comm = worldComm();
  for (int root : {0, comm->size() - 1}) {
    const std::vector<std::string> got =
        gatherBytes(*comm, bytesOf(comm->rank(), sizeOf(comm->rank(), base)), root, {chunk});
    if (comm->rank() != root && comm->size() > 1) {
      EXPECT_TRUE(got.empty());
      continue;
    }
    ASSERT_EQ(got.size(), static_cast<size_t>(comm->size()));
    for (int r = 0; r < comm->size(); ++r) EXPECT_EQ(got[static_cast<size_t>(r)], bytesOf(r, sizeOf(r, base))) << r;
  }
}

TEST_P(ChunkedBytesTest, ScatterGivesEachRankItsOwn) {
  const auto [base, chunk] = GetParam();
  auto comm = worldComm();
  std::vector<std::string> all;
  for (int r = 0; r < comm->size(); ++r) all.push_back(bytesOf(r, sizeOf(r, base)));
  const int root = comm->size() - 1;
  EXPECT_EQ(scatterBytes(*comm, comm->rank() == root ? all : std::vector<std::string>{}, root, {chunk}),
            bytesOf(comm->rank(), sizeOf(comm->rank(), base)));
}

TEST_P(ChunkedBytesTest, BroadcastGivesEveryRankTheRoots) {
  const auto [base, chunk] = GetParam();
  auto comm = worldComm();
  const std::string mine = comm->rank() == 0 ? bytesOf(9, base) : std::string("ignored");
  EXPECT_EQ(broadcastBytes(*comm, mine, 0, {chunk}), bytesOf(9, base));
}

INSTANTIATE_TEST_SUITE_P(Sizes, ChunkedBytesTest,
                         ::testing::Combine(::testing::Values(size_t{0}, size_t{1}, size_t{7}, size_t{1000},
                                                              size_t{10007}),
                                            ::testing::Values(int64_t{1}, int64_t{7}, int64_t{4096},
                                                              int64_t{64} << 20)),
                         [](const auto& info) {
                           return "n" + std::to_string(std::get<0>(info.param)) + "_chunk" +
                                  std::to_string(std::get<1>(info.param));
                         });

}  // namespace
}  // namespace autoglm::comm
