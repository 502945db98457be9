// The sharded checkpoint at several ranks (run at 1-4 ranks):
//  - every rank's state reaches the writer (world rank 0) alone, in chunks:
//    with 333-byte chunks each rank's 10-20 kB rank state crosses many chunk
//    boundaries and arrives intact in its rank-NNNNN.pt;
//  - rank 0's Adagrad state (step and sum) reaches every rank when it alone
//    reads the checkpoint (broadcastModelState);
//  - the pipeline's stage cut is part of the layout (4 ranks): a run resumed
//    at the same (dp,tp,pp) but another cut does not restore rank states that
//    belong to other parts (with topk compression their residuals do not fit
//    the buckets of the new cut), and continues like the saved run.

#include <ATen/Functions.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "comm/communicator.h"
#include "parallel/process_grid.h"
#include "tests/mpi_test_main.h"
#include "tests/trainer/shared_dir.h"
#include "tests/trainer/test_util.h"
#include "trainer/checkpoint/param_state.h"
#include "trainer/checkpoint/rank_state.h"
#include "trainer/checkpoint/shard_loader.h"
#include "trainer/checkpoint/sharded_checkpoint.h"
#include "trainer/tasks/graph_classification/classifier_trainer.h"

namespace autoglm::trainer {
namespace {
namespace fs = std::filesystem;

using testing::SharedDir;

std::string rankBytes(int rank) {
  std::string s(static_cast<size_t>(10000 + 3331 * rank), '\0');
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>((i * 13 + static_cast<size_t>(rank) * 101) & 0xff);
  return s;
}

TEST(ShardedCheckpoint, RankStatesReachTheWriterInChunks) {
  auto world = test::worldComm();
  SharedDir d(*world, "ckpt_chunks");
  ExperimentConfig cfg = testing::smallR8Config(d / "run");
  cfg.data.val_fraction = 0.9;
  const core::graph::PreparedData data = prepareData(cfg);
  ClassifierTrainer t(cfg, data, world);
  const parallel::ParallelGrid grid = parallel::ParallelGrid::dataParallel(test::worldComm());
  CheckpointManager manager(d / "run/checkpoints", 3);
  CheckpointPayload payload;
  payload.state = {{"step", 0}};
  payload.vocab_tokens = data.vocab.tokens();
  payload.label_names = data.label_names;
  ShardedSave s;
  s.grid = &grid;
  s.model = t.model().get();
  s.optimizer = &t.steps().optimizer();
  s.layout = {world->size(), 1, 1, parallel::data_parallel::compression::CompressionType::kNone, {0}};
  s.rank_state = rankBytes(world->rank());
  s.chunks.chunk_bytes = 333;
  saveShardedCheckpoint(manager, "step-00000001", payload, s);
  if (world->rank() == 0) {
    const CheckpointInfo ckpt = openCheckpoint(d / "run/checkpoints/step-00000001", false);
    for (int r = 0; r < world->size(); ++r) {
      EXPECT_EQ(readCheckpointFile(ckpt, rankFileName(r)), rankBytes(r)) << "rank " << r;
    }
    EXPECT_EQ(checkpointLayout(ckpt), s.layout);
  }
}

TEST(ShardedCheckpoint, AdagradStateIsBroadcastFromTheRoot) {
  auto world = test::worldComm();
  SharedDir d(*world, "ckpt_adagrad");
  ExperimentConfig cfg = testing::smallR8Config(d / "run");
  cfg.train.optimizer = OptimizerKind::kAdagrad;
  const core::graph::PreparedData data = prepareData(cfg);
  ClassifierTrainer t(cfg, data, world);
  auto& opt = t.steps().optimizer();
  const std::vector<at::Tensor> params = t.model()->parameters();
  if (world->rank() == 0) {
    for (size_t i = 0; i < params.size(); ++i) {
      setMoments(opt, params[i], {3, {{"sum", at::full_like(params[i], 0.5 + static_cast<double>(i))}}});
    }
  }
  broadcastModelState(*world, *t.model(), &opt, 0);
  for (size_t i = 0; i < params.size(); ++i) {
    const std::optional<Moments> m = momentsOf(opt, params[i]);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->step, 3) << "rank " << world->rank() << " parameter " << i;
    ASSERT_EQ(m->tensors.size(), 1u);
    EXPECT_EQ(m->tensors[0].first, "sum");
    EXPECT_TRUE(at::equal(m->tensors[0].second, at::full_like(params[i], 0.5 + static_cast<double>(i))))
        << "rank " << world->rank() << " parameter " << i;
  }
}

TEST(ShardedCheckpoint, StageCutIsPartOfTheLayout) {
  auto world = test::worldComm();
  if (world->size() != 4) GTEST_SKIP() << "runs at 4 ranks: (dp,tp,pp)=(2,1,2)";
  SharedDir d(*world, "ckpt_cut");
  ExperimentConfig cfg = testing::smallShardableConfig(d / "run");
  cfg.train.patience = 0;
  cfg.train.batch_graphs = 24;
  cfg.parallel.dp = 2;
  cfg.parallel.pp = 2;
  cfg.parallel.pipeline.micro_batches = 2;
  cfg.parallel.compression.type = parallel::data_parallel::compression::CompressionType::kTopk;
  cfg.parallel.pipeline.boundaries = {1};  // embed | block0 block1 readout head
  const core::graph::PreparedData data = prepareData(cfg);
  cfg.train.max_steps = 3;
  {
    ClassifierTrainer t(cfg, data, parallel::ParallelGrid(world, cfg.parallel));
    t.fit(false);
  }
  if (world->rank() == 0) {
    const CheckpointInfo ckpt = openCheckpoint(cfg.run.out_dir, false);
    EXPECT_EQ(checkpointLayout(ckpt).stage_first, (std::vector<int64_t>{0, 1}));
    EXPECT_EQ(checkpointLayout(ckpt).str(), "(dp,tp,pp)=(2,1,2) stages from parts 0,1 compression topk");
  }
  // Same (dp,tp,pp), another cut: resumes and trains on (residuals dropped).
  ExperimentConfig other = cfg;
  other.parallel.pipeline.boundaries = {3};  // embed block0 block1 | readout head
  other.train.max_steps = 5;
  ClassifierTrainer t(other, data, parallel::ParallelGrid(world, other.parallel));
  FitResult r;
  EXPECT_NO_THROW(r = t.fit(true));
  EXPECT_EQ(r.steps, 5);
}

}  // namespace
}  // namespace autoglm::trainer
