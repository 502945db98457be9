// ParallelGrid over real ranks: per-axis communicators and pipeline neighbours
// for every layout that fits the world size.

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include <numeric>

#include "core/error.h"
#include "parallel/process_grid.h"
#include "tests/mpi_test_main.h"

namespace autoglm::parallel {
namespace {

struct Layout {
  int dp, tp, pp;
};

class GridTest : public ::testing::TestWithParam<Layout> {};

int64_t sumOf(const std::vector<int>& ranks) { return std::accumulate(ranks.begin(), ranks.end(), int64_t{0}); }

TEST_P(GridTest, AxisCommunicatorsReduceOverTheirGroups) {
  auto world = test::worldComm();
  const Layout l = GetParam();
  if (l.dp * l.tp * l.pp != world->size()) GTEST_SKIP() << "layout needs " << l.dp * l.tp * l.pp << " ranks";
  ParallelConfig cfg;
  cfg.dp = l.dp;
  cfg.tp = l.tp;
  cfg.pp = l.pp;
  ParallelGrid grid(world, cfg);
  const GridLayout& g = grid.layout();
  const int r = world->rank();
  EXPECT_EQ(grid.coord(), g.coord(r));
  EXPECT_EQ(grid.tp().size(), l.tp);
  EXPECT_EQ(grid.dp().size(), l.dp);
  EXPECT_EQ(grid.pp().size(), l.pp);
  EXPECT_EQ(grid.tp().rank(), grid.coord().tp);
  EXPECT_EQ(grid.dp().rank(), grid.coord().dp);
  EXPECT_EQ(grid.pp().rank(), grid.coord().pp);

  // Sum of world ranks over each axis group, against the layout computed locally.
  struct Axis {
    comm::Communicator* c;
    std::vector<int> group;
  } axes[] = {{&grid.tp(), g.tpGroup(r)}, {&grid.dp(), g.dpGroup(r)}, {&grid.pp(), g.ppGroup(r)}};
  for (auto& a : axes) {
    at::Tensor t = at::full({5}, static_cast<int64_t>(r), at::TensorOptions().dtype(at::kLong));
    a.c->allreduce(t, {})->wait();
    EXPECT_TRUE(at::equal(t, at::full({5}, sumOf(a.group), at::TensorOptions().dtype(at::kLong))))
        << a.c->groupName();
    auto w = a.c->allgather(at::full({1}, static_cast<int64_t>(r), at::TensorOptions().dtype(at::kLong)), {});
    w->wait();
    at::Tensor got = w->result()[0].flatten();
    for (size_t i = 0; i < a.group.size(); ++i) EXPECT_EQ(got[i].item<int64_t>(), a.group[i]) << a.c->groupName();
  }

  // Pipeline: activations of unknown shape flow stage to stage.
  EXPECT_EQ(grid.isFirstStage(), g.prevStage(r) < 0);
  EXPECT_EQ(grid.isLastStage(), g.nextStage(r) < 0);
  at::Tensor act = at::full({grid.coord().pp + 1, 3}, static_cast<float>(r));
  std::shared_ptr<comm::Work> sent;
  if (!grid.isLastStage()) sent = grid.pp().send(act, grid.nextStage(), {1});
  if (!grid.isFirstStage()) {
    auto w = grid.pp().recv(grid.prevStage(), {1});
    w->wait();
    EXPECT_TRUE(at::equal(w->result()[0], at::full({grid.coord().pp, 3}, static_cast<float>(g.prevStage(r)))));
  }
  if (sent) sent->wait();
}

INSTANTIATE_TEST_SUITE_P(Layouts, GridTest,
                         ::testing::Values(Layout{1, 1, 1}, Layout{2, 1, 1}, Layout{1, 2, 1}, Layout{1, 1, 2},
                                           Layout{3, 1, 1}, Layout{1, 3, 1}, Layout{2, 2, 1}, Layout{1, 2, 2},
                                           Layout{2, 1, 2}, Layout{4, 1, 1}),
                         [](const auto& info) {
                           return "dp" + std::to_string(info.param.dp) + "_tp" + std::to_string(info.param.tp) +
                                  "_pp" + std::to_string(info.param.pp);
                         });

TEST(ParallelGrid, WrongProductIsAConfigError) {
  auto world = test::worldComm();
  ParallelConfig cfg;
  cfg.dp = world->size() + 1;
  try {
    ParallelGrid grid(world, cfg);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("does not equal world size " + std::to_string(world->size())),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace autoglm::parallel
