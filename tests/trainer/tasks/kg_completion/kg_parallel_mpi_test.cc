// Knowledge-graph completion at every layout dp x tp the world size allows
// against one process: five steps give one process's loss at each step and
// the same tables (each rank's entity rows against the matching rows of the
// one-process table), for one_vs_all (ComplEx with N3, Adagrad; the sharded
// softmax) and negative sampling (RotatE with self-adversarial weights and
// TransE, head and tail batches, Adam). The filtered ranking of the
// validation split is the same at every layout. A checkpoint written at the
// layout is read back by one process (tp resliced) into the one-process
// tables. Entities (37) split unevenly over tp. Run at 1-4 ranks.

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>
#include <torch/serialize.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>

#include "comm/communicator.h"
#include "parallel/process_grid.h"
#include "parallel/tensor_parallel/row_sharded.h"
#include "parallel/tensor_parallel/tp_ops.h"
#include "tests/mpi_test_main.h"
#include "trainer/tasks/kg_completion/kg_checkpoint.h"
#include "trainer/tasks/kg_completion/kg_task.h"

namespace autoglm::trainer {
namespace {
namespace fs = std::filesystem;

// One folder per world size: ctest runs the np1-np4 variants side by side.
std::string kDir;  // set by writeGraph

// A small graph in the ids form, written by world rank 0.
void writeGraph(comm::Communicator& world) {
  kDir = "/tmp/autoglm_kg_mpi_test-np" + std::to_string(world.size());
  if (world.rank() == 0) {
    fs::remove_all(kDir);
    fs::create_directories(kDir + "/data");
    std::ofstream(kDir + "/data/kg.json") << R"({"format": "autoglm-kg-ids", "entities": 37, "relations": 4})";
    std::mt19937_64 rng(7);
    std::ofstream train(kDir + "/data/train.txt"), valid(kDir + "/data/valid.txt");
    for (int i = 0; i < 150; ++i) {
      std::ofstream& out = i < 130 ? train : valid;
      out << rng() % 37 << '\t' << rng() % 4 << '\t' << rng() % 37 << '\n';
    }
  }
  world.barrier({})->wait();
}

ExperimentConfig config(const std::string& variant, int dp, int tp) {
  ExperimentConfig cfg;
  cfg.model.kind = core::model::ModelKind::kKgCompletion;
  cfg.run.seed = 3;
  cfg.run.out_dir = kDir + "/run-" + variant + "-" + std::to_string(dp) + "x" + std::to_string(tp);
  cfg.parallel.dp = dp;
  cfg.parallel.tp = tp;
  cfg.kg.data_dir = kDir + "/data";
  cfg.kg.batch = 12;
  cfg.kg.dim = 8;
  cfg.kg.eval_batch = 5;
  cfg.train.grad_clip = 0;
  cfg.train.weight_decay = 0;
  cfg.train.warmup_steps = 2;
  cfg.train.schedule = ScheduleKind::kConstant;
  if (variant == "complex") {
    cfg.kg.score = core::kg::KgScore::kComplEx;
    cfg.kg.training = core::kg::KgTraining::kOneVsAll;
    cfg.kg.n3 = 0.05;
    cfg.kg.init_scale = 0.3;
    cfg.train.optimizer = OptimizerKind::kAdagrad;
    cfg.train.lr = 0.1;
  } else {
    cfg.kg.score = variant == "rotate" ? core::kg::KgScore::kRotatE : core::kg::KgScore::kTransEL1;
    cfg.kg.training = core::kg::KgTraining::kNegative;
    cfg.kg.reciprocal = variant == "rotate";  // transe: head batches on odd steps
    cfg.kg.negatives = 6;
    cfg.kg.adversarial_temperature = variant == "rotate" ? 0.5 : 0.0;
    cfg.kg.gamma = 3.0;
    cfg.train.optimizer = OptimizerKind::kAdam;
    cfg.train.embedding_update = variant == "rotate" ? EmbeddingUpdate::kLazy : EmbeddingUpdate::kSparse;
    cfg.train.lr = 0.05;
  }
  return cfg;
}

void checkLayout(const std::string& variant, int dp, int tp, std::shared_ptr<comm::Communicator> world) {
  const std::string what = variant + " at dp=" + std::to_string(dp) + " tp=" + std::to_string(tp);
  ExperimentConfig cfg = config(variant, dp, tp);
  parallel::ParallelGrid grid(world, cfg.parallel);
  KgTask mp(cfg, grid);
  KgTask one(config(variant, 1, 1), parallel::ParallelGrid::alone());
  ASSERT_EQ(mp.planEpoch(0).global_items, one.planEpoch(0).global_items) << what;
  for (int64_t s = 0; s < 5; ++s) {
    const double loss = mp.meanOverRanks(mp.trainStep(s, s + 1, 12, s));
    const double ref = one.trainStep(s, s + 1, 12, s);
    EXPECT_NEAR(loss, ref, 1e-5) << what << " step " << s;
  }
  const KgModel& m = mp.model();
  const at::Tensor ref_rows = one.model().entities().detach().narrow(0, m.offset(), m.rows());
  EXPECT_TRUE(at::allclose(m.entities().detach(), ref_rows, 1e-5, 1e-5))
      << what << ": max diff " << (m.entities().detach() - ref_rows).abs().max().item<float>();
  EXPECT_TRUE(at::allclose(m.relations().detach(), one.model().relations().detach(), 1e-5, 1e-5)) << what;
  EXPECT_GT((one.model().relations().detach() - KgModel(cfg.kg, 37, m.relations().size(0), 3, 0, 1).relations())
                .abs().max().item<float>(), 1e-4) << what << ": the relations moved";
  const RankingMetrics a = mp.rank(core::kg::KgSplit::kValid), b = one.rank(core::kg::KgSplit::kValid);
  EXPECT_EQ(a.queries, b.queries) << what;
  EXPECT_NEAR(a.mrr, b.mrr, 1e-9) << what;
  EXPECT_NEAR(a.mr, b.mr, 1e-9) << what;

  // The layout's checkpoint, in chunk files of 3-4 rows: read by one process
  // (tp resliced), and resumed at the layout (rows and optimizer state sent
  // over dp): the next step's loss and tables are the uninterrupted run's.
  TrainState state;
  mp.describeRun(&state);
  state.step = 5;
  CheckpointManager manager(cfg.run.out_dir + "/checkpoints", 2);
  CheckpointPayload payload;
  payload.state = state.toJson();
  payload.config_yaml = cfg.toYaml();
  saveKgCheckpoint(manager, "step-00000005", payload, grid, mp.model(), &mp.optimizer(), 100);
  if (world->rank() == 0) {
    // Each chunk file holds its rows only (an archive keeps a view's whole storage).
    int chunks = 0;
    for (const auto& f : fs::directory_iterator(cfg.run.out_dir + "/checkpoints/step-00000005")) {
      if (f.path().filename().string().rfind("entities-", 0) != 0) continue;
      torch::serialize::InputArchive a;
      a.load_from(f.path().string());
      at::Tensor rows;
      a.read("rows", rows);
      EXPECT_LE(rows.size(0), 3) << f.path();
      EXPECT_EQ(rows.storage().nbytes(), static_cast<size_t>(rows.numel()) * sizeof(float)) << f.path();
      ++chunks;
    }
    EXPECT_EQ(chunks, 13) << what;  // 37 rows in chunks of 3 on each tp rank's slice
    KgModel back(cfg.kg, 37, m.relations().size(0), 99, 0, 1);
    readKgTables(openCheckpoint(cfg.run.out_dir + "/checkpoints/step-00000005", false), back, nullptr);
    EXPECT_TRUE(at::allclose(back.entities(), one.model().entities().detach(), 1e-5, 1e-5)) << what << " checkpoint";
    EXPECT_TRUE(at::allclose(back.relations(), one.model().relations().detach(), 1e-5, 1e-5)) << what;
  }
  KgTask resumed(cfg, grid);
  std::optional<CheckpointInfo> on_root;
  if (world->rank() == 0) on_root = openCheckpoint(cfg.run.out_dir + "/checkpoints/step-00000005", false);
  resumed.restore(resumed.fromRoot(on_root, "no checkpoint"));
  resumed.planEpoch(0);
  const double after = resumed.meanOverRanks(resumed.trainStep(5, 6, 12, 5));
  EXPECT_NEAR(after, mp.meanOverRanks(mp.trainStep(5, 6, 12, 5)), 1e-6) << what << " resumed";
  EXPECT_TRUE(at::allclose(resumed.model().entities().detach(), m.entities().detach(), 1e-6, 1e-6)) << what;
  world->barrier({})->wait();
}

TEST(KgParallelTest, EveryLayoutMatchesOneProcess) {
  auto world = test::worldComm();
  writeGraph(*world);
  const int n = world->size();
  for (const std::string variant : {"complex", "rotate", "transe"}) {
    for (int tp = 1; tp <= n; ++tp) {
      if (n % tp == 0) checkLayout(variant, n / tp, tp, world);
    }
  }
}

// The top k of rows whose columns are spread over the ranks: the k best of all
// columns, ties lower id first, as one process sorting the whole row.
TEST(KgParallelTest, ShardedTopKEqualsOneProcessSort) {
  auto world = test::worldComm();
  at::manual_seed(5);
  at::Tensor full = at::randint(0, 6, {4, 37}, at::kFloat);  // few values: many ties
  const int n = world->size();
  const int64_t off = parallel::tensor_parallel::partitionOffset(37, n, world->rank());
  const int64_t cols = parallel::tensor_parallel::partitionSizes(37, n)[static_cast<size_t>(world->rank())];
  const auto [v, i] = parallel::tensor_parallel::shardedTopK(full.narrow(1, off, cols).contiguous(), 5, off, *world);
  for (int64_t r = 0; r < 4; ++r) {
    std::vector<std::pair<float, int64_t>> row;
    for (int64_t c = 0; c < 37; ++c) row.emplace_back(-full[r][c].item<float>(), c);
    std::sort(row.begin(), row.end());
    for (int64_t k = 0; k < 5; ++k) {
      EXPECT_EQ(i[r][k].item<int64_t>(), row[static_cast<size_t>(k)].second) << "row " << r << " k " << k;
      EXPECT_EQ(v[r][k].item<float>(), -row[static_cast<size_t>(k)].first);
    }
  }
}

TEST(KgParallelTest, LayoutBeyondTheMemoryLimitIsRefusedOnEveryRank) {
  auto world = test::worldComm();
  writeGraph(*world);
  ExperimentConfig cfg = config("complex", world->size(), 1);
  cfg.run.memory_limit = "1MiB";
  try {
    KgTask task(cfg, parallel::ParallelGrid(world, cfg.parallel));
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("world rank 0"), std::string::npos) << m;
    EXPECT_NE(m.find("run.memory_limit"), std::string::npos) << m;
    EXPECT_NE(m.find("limit is 1.0 MiB"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace autoglm::trainer
