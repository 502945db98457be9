// Rank arithmetic of the dp x tp x pp grid (no communication).

#include <gtest/gtest.h>

#include "core/error.h"
#include "parallel/process_grid.h"

namespace autoglm::parallel {
namespace {

ParallelConfig cfg(int dp, int tp, int pp) {
  ParallelConfig c;
  c.dp = dp;
  c.tp = tp;
  c.pp = pp;
  return c;
}

TEST(GridLayout, MegatronOrderTpFastestThenDpThenPp) {
  GridLayout g(cfg(2, 2, 2), 8);
  // rank = tp + 2 * (dp + 2 * pp)
  EXPECT_EQ(g.coord(0), (GridCoord{0, 0, 0}));
  EXPECT_EQ(g.coord(1), (GridCoord{0, 1, 0}));
  EXPECT_EQ(g.coord(2), (GridCoord{1, 0, 0}));
  EXPECT_EQ(g.coord(5), (GridCoord{0, 1, 1}));
  EXPECT_EQ(g.coord(7), (GridCoord{1, 1, 1}));
  for (int r = 0; r < 8; ++r) EXPECT_EQ(g.rankOf(g.coord(r)), r);
  EXPECT_EQ(g.tpGroup(5), (std::vector<int>{4, 5}));
  EXPECT_EQ(g.dpGroup(5), (std::vector<int>{5, 7}));
  EXPECT_EQ(g.ppGroup(5), (std::vector<int>{1, 5}));
  EXPECT_EQ(g.prevStage(5), 1);
  EXPECT_EQ(g.nextStage(5), -1);
  EXPECT_EQ(g.prevStage(1), -1);
  EXPECT_EQ(g.nextStage(1), 5);
}

TEST(GridLayout, Layout122) {
  GridLayout g(cfg(1, 2, 2), 4);
  EXPECT_EQ(g.coord(3), (GridCoord{0, 1, 1}));
  EXPECT_EQ(g.ppGroup(0), (std::vector<int>{0, 2}));
  EXPECT_EQ(g.tpGroup(2), (std::vector<int>{2, 3}));
  EXPECT_EQ(g.dpGroup(2), (std::vector<int>{2}));
}

TEST(GridLayout, Layout212) {
  GridLayout g(cfg(2, 1, 2), 4);
  EXPECT_EQ(g.coord(3), (GridCoord{1, 0, 1}));
  EXPECT_EQ(g.dpGroup(0), (std::vector<int>{0, 1}));
  EXPECT_EQ(g.ppGroup(1), (std::vector<int>{1, 3}));
  EXPECT_EQ(g.nextStage(1), 3);
}

TEST(GridLayout, ProductMismatchNamesTheNumbers) {
  try {
    GridLayout g(cfg(2, 2, 2), 4);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "parallel: dp*tp*pp = 2*2*2 = 8 does not equal world size 4");
  }
  EXPECT_THROW(GridLayout(cfg(0, 1, 1), 0), ConfigError);
}

TEST(ParallelConfig, ReadsYaml) {
  ParallelConfig c;
  core::YamlReader reader(YAML::Load("{dp: 2, tp: 1, pp: 2}"), "t.yaml", "parallel");
  c.visit(reader);
  reader.finish();
  EXPECT_EQ(c.dp, 2);
  EXPECT_EQ(c.pp, 2);
  ParallelConfig bad;
  core::YamlReader r2(YAML::Load("{tp: 0}"), "t.yaml", "parallel");
  EXPECT_THROW(bad.visit(r2), ConfigError);
}

}  // namespace
}  // namespace autoglm::parallel
