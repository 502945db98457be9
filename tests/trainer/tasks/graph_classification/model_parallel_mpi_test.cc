// Tensor and pipeline parallelism against one process: with dropout off, five
// steps at every layout dp x tp x pp that the world size allows give the loss
// of one process at each step and the same parameters (each rank's shard
// compared with the matching slice of the one-process model), for every
// schedule. Heads (5) and vocabulary rows split unevenly. Run at 2, 4 and 8 ranks.

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "comm/communicator.h"
#include "parallel/data_parallel/distributed_sampler.h"
#include "parallel/process_grid.h"
#include "parallel/tensor_parallel/plan.h"
#include "tests/trainer/test_util.h"
#include "tests/mpi_test_main.h"
#include "trainer/tasks/graph_classification/classifier_trainer.h"

namespace autoglm::trainer {
namespace {

namespace pl = parallel::pipeline;

ExperimentConfig smallConfig() {
  ExperimentConfig cfg = testing::smallShardableConfig("/tmp/autoglm_mp_unused");
  cfg.train.batch_graphs = 24;
  return cfg;
}

// The first `steps` global batches, this dp rank's share of each.
std::vector<std::pair<std::vector<int64_t>, int64_t>> batches(ClassifierTrainer& t, const ExperimentConfig& cfg, int dp_rank,
                                                              int dp, const core::graph::PreparedData& data,
                                                              int steps) {
  parallel::data_parallel::SamplerOptions so;
  so.seed = static_cast<uint64_t>(cfg.run.seed);
  so.rank = dp_rank;
  so.world = dp;
  parallel::data_parallel::DistributedSampler sampler(t.trainIndices(), so);
  std::vector<int64_t> global;
  const auto all = sampler.epochBatches(0, {cfg.train.batch_graphs, 0},
                                        [&](int64_t i) { return data.store.numNodes(i); }, &global);
  std::vector<std::pair<std::vector<int64_t>, int64_t>> out;
  for (int s = 0; s < steps; ++s) out.emplace_back(all[static_cast<size_t>(s)], global[static_cast<size_t>(s)]);
  return out;
}

using Layout = std::tuple<int, int, int>;  // dp, tp, pp

// With relation_aware, both models learn att_edge per block (sharded by heads
// at tp > 1), which starts at zero and must have moved after the steps.
void checkLayout(const Layout& layout, pl::ScheduleKind schedule, comm::Communicator& world_comm,
                 std::shared_ptr<comm::Communicator> world, bool relation_aware = false) {
  const auto [dp, tp, pp] = layout;
  const std::string what = "layout (" + std::to_string(dp) + "," + std::to_string(tp) + "," + std::to_string(pp) +
                           ") " + core::enumName(schedule) + (relation_aware ? " relation-aware" : "");
  ExperimentConfig cfg = smallConfig();
  cfg.model.relation_aware = relation_aware;
  cfg.parallel.dp = dp;
  cfg.parallel.tp = tp;
  cfg.parallel.pp = pp;
  cfg.parallel.pipeline.schedule = schedule;
  cfg.parallel.pipeline.micro_batches = 3;
  const core::graph::PreparedData data = prepareData(cfg);
  parallel::ParallelGrid grid(world, cfg.parallel);
  ClassifierTrainer mp(cfg, data, grid);

  ExperimentConfig one = smallConfig();
  one.model.relation_aware = relation_aware;
  one.train.batch_graphs = cfg.train.batch_graphs * dp;
  ClassifierTrainer ref(one, data);
  const auto mine = batches(mp, cfg, grid.coord().dp, dp, data, 5);
  const auto all = batches(ref, one, 0, 1, data, 5);
  for (int s = 0; s < 5; ++s) {
    double loss = mp.trainStep({mine[static_cast<size_t>(s)].first}, mine[static_cast<size_t>(s)].second);
    at::Tensor l = at::full({1}, static_cast<float>(loss), at::TensorOptions().dtype(at::kFloat));
    grid.dp().allreduce(l, {comm::ReduceOp::kAvg})->wait();
    const double want = ref.trainStep({all[static_cast<size_t>(s)].first}, all[static_cast<size_t>(s)].second);
    EXPECT_NEAR(l.item<float>(), want, 1e-5 * std::abs(want) + 1e-6) << what << " step " << s;
  }
  // Each parameter this rank holds against the slice of the reference it is.
  for (const auto& name : mp.model()->partNames()) {
    auto part = mp.model()->part(name);
    if (!part) continue;
    auto ref_part = ref.model()->part(name);
    if (relation_aware && name.rfind("block", 0) == 0) {
      const auto params = part->named_parameters();
      ASSERT_TRUE(params.contains("att_edge")) << what << " " << name;
      EXPECT_GT(params["att_edge"].abs().sum().item<double>(), 0.0) << what << " " << name << ".att_edge never moved";
    }
    for (const auto& item : part->named_parameters()) {
      at::Tensor want = ref_part->named_parameters()[item.key()];
      if (auto shard = part->shardOf(item.key())) want = want.narrow(shard->dim, shard->offset, item.value().size(shard->dim));
      ASSERT_EQ(item.value().sizes(), want.sizes()) << what << " " << name << "." << item.key();
      EXPECT_TRUE(at::allclose(item.value(), want, 1e-5, 1e-5))
          << what << " " << name << "." << item.key() << " max diff "
          << (item.value() - want).abs().max().item<double>();
    }
  }
  world_comm.barrier({})->wait();
}

TEST(ModelParallel, EveryLayoutTrainsWhatOneProcessTrains) {
  auto world = test::worldComm();
  const int n = world->size();
  std::vector<Layout> layouts;
  for (int dp = 1; dp <= n; ++dp) {
    for (int tp = 1; tp <= n; ++tp) {
      for (int pp = 1; pp <= 4; ++pp) {
        // At 8 ranks (oversubscribed here) only the 3-D layout.
        if (dp * tp * pp == n && tp * pp > 1 && tp <= 4 && (n < 8 || (dp == 2 && tp == 2 && pp == 2))) {
          layouts.emplace_back(dp, tp, pp);
        }
      }
    }
  }
  for (const Layout& l : layouts) {
    for (auto schedule : {pl::ScheduleKind::kGpipe, pl::ScheduleKind::k1F1B, pl::ScheduleKind::kZbH1}) {
      if (std::get<2>(l) == 1 && schedule != pl::ScheduleKind::k1F1B) continue;  // no pipeline: one schedule
      checkLayout(l, schedule, *world, world);
    }
  }
}

// Relation-aware attention at tp=2 (and the rest as data parallel): att_edge,
// sharded by heads, trains what one process trains.
TEST(ModelParallel, RelationAwareTensorParallelTrainsWhatOneProcessTrains) {
  auto world = test::worldComm();
  const int n = world->size();
  if (n % 2 != 0 || n > 4) GTEST_SKIP() << "run at 2 or 4 ranks";
  checkLayout({n / 2, 2, 1}, pl::ScheduleKind::k1F1B, *world, world, /*relation_aware=*/true);
  if (n == 4) checkLayout({1, 2, 2}, pl::ScheduleKind::k1F1B, *world, world, /*relation_aware=*/true);
}

// A share smaller than the micro-batch count leaves micro-batches empty: every
// stage drops the same ones, nothing hangs, and the step is one process's.
TEST(ModelParallel, EmptyMicroBatchesDoNotHang) {
  auto world = test::worldComm();
  if (world->size() != 2) GTEST_SKIP() << "run at 2 ranks";
  ExperimentConfig cfg = smallConfig();
  cfg.parallel.pp = 2;
  cfg.parallel.pipeline.micro_batches = 4;
  const core::graph::PreparedData data = prepareData(cfg);
  parallel::ParallelGrid grid(world, cfg.parallel);
  ClassifierTrainer mp(cfg, data, grid);
  ClassifierTrainer ref(smallConfig(), data);
  // Two graphs of different sizes (so the two non-empty micro-batches differ in shape), then one.
  const std::vector<int64_t> two = {mp.trainIndices()[0], mp.trainIndices()[1]};
  ASSERT_NE(data.store.numNodes(two[0]), data.store.numNodes(two[1]));
  for (const auto& batch : {two, std::vector<int64_t>{mp.trainIndices()[2]}}) {
    const double got = mp.trainStep({batch}, static_cast<int64_t>(batch.size()));
    at::Tensor l = at::full({1}, static_cast<float>(got), at::TensorOptions().dtype(at::kFloat));
    grid.pp().broadcast(l, {1})->wait();  // the last stage's loss
    const double want = ref.trainStep({batch}, static_cast<int64_t>(batch.size()));
    EXPECT_NEAR(l.item<float>(), want, 1e-5 * std::abs(want) + 1e-6) << batch.size() << " graph(s)";
  }
}

// An action that fails names itself: the error, then the schedule with that
// action marked. (Stage 0 fails at its second forward, after sending the first
// activation; stage 1 at its first, after receiving it: nobody waits.)
class FailingForward : public parallel::RunObserver {
 public:
  explicit FailingForward(int at) : at_(at) {}
  void onPhase(parallel::Phase p, int64_t) override {
    if (p == parallel::Phase::kForward && ++forwards_ == at_) throw Error("the observer refused forward " + std::to_string(at_));
  }
  void onStepEnd(int64_t, double) override {}

 private:
  int at_, forwards_ = 0;
};

TEST(ModelParallel, AFailingActionIsPrintedMarkedInItsSchedule) {
  auto world = test::worldComm();
  if (world->size() != 2) GTEST_SKIP() << "run at 2 ranks";
  ExperimentConfig cfg = smallConfig();
  cfg.parallel.pp = 2;
  cfg.parallel.pipeline.micro_batches = 2;
  const core::graph::PreparedData data = prepareData(cfg);
  parallel::ParallelGrid grid(world, cfg.parallel);
  ClassifierTrainer mp(cfg, data, grid);
  FailingForward fail(grid.coord().pp == 0 ? 2 : 1);
  mp.setObserver(&fail);
  std::vector<int64_t> batch(mp.trainIndices().begin(), mp.trainIndices().begin() + 8);
  try {
    mp.trainStep({batch}, 8);
    FAIL() << "the step succeeded";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("the observer refused forward"), std::string::npos) << m;
    EXPECT_NE(m.find("stage " + std::to_string(grid.coord().pp) + ", action "), std::string::npos) << m;
    EXPECT_NE(m.find("1f1b schedule"), std::string::npos) << m;
    EXPECT_NE(m.find("<-- ERROR HERE"), std::string::npos) << m;
  }
}

TEST(ModelParallel, MoreTensorRanksThanHeadsIsAConfigError) {
  ExperimentConfig cfg = smallConfig();
  try {
    parallel::tensor_parallel::checkTensorParallel(cfg.model, 8);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "parallel.tp=8 exceeds model.heads=5: every tensor-parallel rank needs at least one head");
  }
  EXPECT_NO_THROW(parallel::tensor_parallel::checkTensorParallel(cfg.model, 5));
}

}  // namespace
}  // namespace autoglm::trainer
