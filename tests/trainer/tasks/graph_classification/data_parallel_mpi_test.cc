// Data-parallel training over real ranks (run at 1-4 ranks): the trainer
// against one process on the combined batches, gradient accumulation, uneven
// epochs, and resume with compressor state. (The reducer alone over real ranks:
// tests/parallel/data_parallel/gradient_reducer_mpi_test.cc.)

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/trainer/shared_dir.h"
#include "tests/trainer/test_util.h"
#include "tests/mpi_test_main.h"
#include "core/graph/prepared_data.h"
#include "trainer/tasks/graph_classification/classifier_trainer.h"

namespace autoglm::trainer {
namespace {
namespace fs = std::filesystem;

using testing::SharedDir;

// Deterministic: no dropout, so any number of ranks computes the same thing.
ExperimentConfig tinyConfig(const std::string& out_dir) {
  ExperimentConfig cfg = testing::smallR8Config(out_dir);
  cfg.model.dropout = 0.0;
  cfg.model.attn_dropout = 0.0;
  cfg.data.val_fraction = 0.9;  // ~490 training graphs: short epochs
  cfg.train.epochs = 2;
  cfg.train.patience = 0;
  cfg.train.batch_graphs = 8;
  cfg.parallel.bucket_mb = 0.02;  // several buckets for the small model
  return cfg;
}

double maxParamDiff(ClassifierTrainer& a, ClassifierTrainer& b) {
  auto pa = a.model()->parameters();
  auto pb = b.model()->parameters();
  EXPECT_EQ(pa.size(), pb.size());
  double m = 0.0;
  for (size_t i = 0; i < pa.size() && i < pb.size(); ++i) {
    m = std::max(m, (pa[i] - pb[i]).abs().max().item<double>());
  }
  return m;
}

// Every rank must hold the same parameters: compare a checksum across ranks.
void expectSameOnAllRanks(ClassifierTrainer& t, comm::Communicator& comm) {
  double sum = 0.0;
  for (const auto& p : t.model()->parameters()) sum += p.to(at::kDouble).abs().sum().item<double>();
  at::Tensor mine = at::full({1}, static_cast<float>(sum), at::TensorOptions().dtype(at::kFloat));
  auto w = comm.allgather(mine, {});
  w->wait();
  at::Tensor all = w->result()[0].flatten();
  for (int r = 0; r < comm.size(); ++r) EXPECT_EQ(all[r].item<float>(), all[0].item<float>()) << "rank " << r;
}

TEST(DataParallel, NoneEqualsOneProcessOnTheCombinedBatches) {
  auto world = test::worldComm();
  const int n = world->size();
  SharedDir d(*world, "dp_equal");
  ExperimentConfig cfg = tinyConfig(d / "dp");
  core::graph::PreparedData data = prepareData(cfg);
  ClassifierTrainer dp(cfg, data, world);
  // A reducer over several buckets; a group of one has nothing to reduce (no reducer).
  if (n > 1) {
    ASSERT_GT(dp.steps().reducer()->numBuckets(), 1);
  }
  if (n == 1) {
    EXPECT_EQ(dp.steps().reducer(), nullptr);
  }
  const FitResult r = dp.fit(false);
  EXPECT_EQ(r.epochs_run, 2);

  // One process, per-rank batch x ranks: the same global batches.
  ExperimentConfig ref_cfg = cfg;
  ref_cfg.run.out_dir = d / ("ref" + std::to_string(world->rank()));
  ref_cfg.train.batch_graphs = cfg.train.batch_graphs * n;
  ClassifierTrainer ref(ref_cfg, data);
  const FitResult rr = ref.fit(false);
  EXPECT_EQ(r.steps, rr.steps);
  // The epoch's last global batch is smaller (uneven); with fewer graphs than
  // ranks it would be padded and differ from one process, so check it is not.
  const auto train = static_cast<int64_t>(dp.trainIndices().size());
  const int64_t rem = train % (cfg.train.batch_graphs * n);
  ASSERT_TRUE(rem == 0 || rem >= n) << train << " graphs";
  EXPECT_NE(rem, 0) << "want an uneven last batch";
  const double diff = maxParamDiff(dp, ref);
  EXPECT_LT(diff, 2e-5) << "dp=" << n << " vs one process";
  EXPECT_DOUBLE_EQ(r.best_score, rr.best_score);
  expectSameOnAllRanks(dp, *world);
  std::printf("[rank %d] dp=%d vs one process: max |param diff| %.3g after %lld steps\n", world->rank(), n, diff,
              static_cast<long long>(r.steps));
}

TEST(DataParallel, AccumulationEqualsOneProcessOnTheUnionOfMicroBatches) {
  auto world = test::worldComm();
  const int n = world->size();
  SharedDir d(*world, "dp_accum");
  ExperimentConfig cfg = tinyConfig(d / "dp");
  cfg.train.grad_accumulation = 3;
  cfg.train.max_steps = 4;
  cfg.parallel.reducer_mode = parallel::data_parallel::ReducerMode::kAfterBackward;
  core::graph::PreparedData data = prepareData(cfg);
  ClassifierTrainer dp(cfg, data, world);
  dp.fit(false);

  ExperimentConfig ref_cfg = cfg;
  ref_cfg.run.out_dir = d / ("ref" + std::to_string(world->rank()));
  ref_cfg.train.grad_accumulation = 1;
  ref_cfg.train.batch_graphs = cfg.train.batch_graphs * n * 3;
  ref_cfg.train.warmup_steps = cfg.train.warmup_steps;
  ClassifierTrainer ref(ref_cfg, data);
  ref.fit(false);
  EXPECT_EQ(dp.globalStep(), 4);
  EXPECT_EQ(ref.globalStep(), 4);
  EXPECT_LT(maxParamDiff(dp, ref), 2e-5);
  expectSameOnAllRanks(dp, *world);
}

// train.embedding_update: with row-sparse embedding gradients, data parallel
// trains what one process trains. sparse keeps the exact dense optimizer step,
// so it equals one dense process; lazy equals lazy in one process (the union of
// the ranks' rows is the combined batch's rows).
TEST(DataParallel, RowSparseEmbeddingEqualsOneProcess) {
  auto world = test::worldComm();
  const int n = world->size();
  for (const EmbeddingUpdate update : {EmbeddingUpdate::kSparse, EmbeddingUpdate::kLazy}) {
    const std::string name = core::enumName(update);
    SharedDir d(*world, "dp_rows_" + name);
    ExperimentConfig cfg = tinyConfig(d / "dp");
    cfg.train.embedding_update = update;
    cfg.train.max_steps = 6;
    core::graph::PreparedData data = prepareData(cfg);
    ClassifierTrainer dp(cfg, data, world);
    dp.fit(false);
    ExperimentConfig ref_cfg = cfg;
    ref_cfg.run.out_dir = d / ("ref" + std::to_string(world->rank()));
    ref_cfg.train.batch_graphs = cfg.train.batch_graphs * n;
    ref_cfg.train.embedding_update = update == EmbeddingUpdate::kSparse ? EmbeddingUpdate::kDense : update;
    ClassifierTrainer ref(ref_cfg, data);
    ref.fit(false);
    EXPECT_LT(maxParamDiff(dp, ref), 2e-5) << name << " dp=" << n;
    expectSameOnAllRanks(dp, *world);
    if (n > 1) {
      const auto& rows = dp.steps().reducer()->rowSparseStats();
      EXPECT_GT(rows.rows_union, rows.rows_local / n) << name;
      EXPECT_GT(rows.bytes_sent, 0) << name;
    }
  }
  // And lazy is not the dense update: untouched rows' moments stop moving.
  SharedDir d(*world, "dp_rows_differ");
  ExperimentConfig lazy = tinyConfig(d / "lazy");
  lazy.train.embedding_update = EmbeddingUpdate::kLazy;
  lazy.train.max_steps = 6;
  ExperimentConfig dense = lazy;
  dense.run.out_dir = d / "dense";
  dense.train.embedding_update = EmbeddingUpdate::kDense;
  core::graph::PreparedData data = prepareData(lazy);
  ClassifierTrainer a(lazy, data, world), b(dense, data, world);
  a.fit(false);
  b.fit(false);
  EXPECT_GT(maxParamDiff(a, b), 1e-6);
}

// topk with the table out of the buckets keeps as many elements as with it:
// ratio x every parameter's numel, all from the dense rest.
TEST(DataParallel, TopkWithRowSparseTablesKeepsItsElementCount) {
  auto world = test::worldComm();
  if (world->size() == 1) GTEST_SKIP() << "needs two ranks";
  SharedDir d(*world, "dp_rows_topk");
  ExperimentConfig cfg = tinyConfig(d / "run");
  cfg.train.embedding_update = EmbeddingUpdate::kLazy;
  cfg.train.max_steps = 3;
  cfg.parallel.compression.type = parallel::data_parallel::compression::CompressionType::kTopk;
  cfg.parallel.compression.ratio = 0.01;
  core::graph::PreparedData data = prepareData(cfg);
  ClassifierTrainer t(cfg, data, world);
  t.fit(false);
  double all = 0.0, table = 0.0;
  for (const auto& item : t.model()->named_parameters()) {
    all += static_cast<double>(item.value().numel());
    if (item.key() == "embed.weight") table += static_cast<double>(item.value().numel());
  }
  const double want = 0.01 * all / (all - table);
  const auto& stats = t.steps().reducer()->compressor().stats();
  ASSERT_GT(stats.compressed_elements, 0);
  const double got = static_cast<double>(stats.selected_elements) / static_cast<double>(stats.compressed_elements);
  EXPECT_GT(want, 0.05) << "the table should hold most parameters";
  EXPECT_NEAR(got, want, 0.3 * want) << "topk kept " << got << " of the dense rest";
}

// Resume from a checkpoint of a compressed run continues exactly as if never
// stopped: residuals, momentum and every rank's RNG (dropout on) come back.
class ResumeWithCompression : public ::testing::TestWithParam<std::string> {};

TEST_P(ResumeWithCompression, GivesTheParametersOfAnUninterruptedRun) {
  auto world = test::worldComm();
  SharedDir d(*world, "dp_resume_" + GetParam());
  ExperimentConfig cfg = tinyConfig(d / "full");
  cfg.model.dropout = 0.3;  // per-rank dropout masks must resume too
  namespace comp = parallel::data_parallel::compression;
  // "onebit_adam": onebit with the shape from Adam's second moment;
  // "onebit_frozen": onebit with Adam's second moment frozen after the warm-up.
  const bool shaped = GetParam() == "onebit_adam", frozen = GetParam() == "onebit_frozen";
  // "lazy_topk": topk on the dense parameters, the embedding's rows lazy (row-sparse, uncompressed).
  const bool lazy = GetParam() == "lazy_topk";
  if (lazy) cfg.train.embedding_update = EmbeddingUpdate::kLazy;
  cfg.parallel.compression.type =
      *core::parseEnum<comp::CompressionType>(shaped || frozen ? "onebit" : lazy ? "topk" : GetParam());
  if (shaped) cfg.parallel.compression.shape = comp::ShapeKind::kAdam;
  cfg.parallel.compression.freeze_variance = frozen;
  cfg.parallel.compression.warmup_steps = 2;
  cfg.parallel.compression.ratio = 0.05;
  cfg.parallel.compression.momentum = GetParam() == "topk" || lazy ? 0.9 : 0.0;
  cfg.parallel.compression.chunk_elems = 64;
  cfg.train.max_steps = 10;
  core::graph::PreparedData data = prepareData(cfg);
  ClassifierTrainer full(cfg, data, world);
  full.fit(false);

  ExperimentConfig part = cfg;
  part.run.out_dir = d / "part";
  part.train.max_steps = 5;
  {
    ClassifierTrainer first(part, data, world);
    first.fit(false);
    EXPECT_EQ(first.globalStep(), 5);
  }
  part.train.max_steps = 10;
  ClassifierTrainer second(part, data, world);
  second.fit(true);
  EXPECT_EQ(second.globalStep(), 10);
  EXPECT_LT(maxParamDiff(full, second), 1e-6) << GetParam();
  if (world->size() > 1) {
    EXPECT_GT(second.steps().reducer()->compressor().stats().compressed_elements, 0);
    EXPECT_TRUE(fs::exists(fs::path(d / "part") / "checkpoints" / "step-00000005" / "rank-00001.pt"));
  }
  expectSameOnAllRanks(second, *world);
  if ((shaped || frozen) && world->size() > 1) {
    // The shape reaches the compressor, the freeze the optimizer: plain onebit
    // trains differently.
    ExperimentConfig uniform = cfg;
    uniform.run.out_dir = d / "uniform";
    uniform.parallel.compression.shape = comp::ShapeKind::kUniform;
    uniform.parallel.compression.freeze_variance = false;
    ClassifierTrainer plain(uniform, data, world);
    plain.fit(false);
    EXPECT_GT(maxParamDiff(full, plain), 1e-6);
  }
}

INSTANTIATE_TEST_SUITE_P(Compressors, ResumeWithCompression,
                         ::testing::Values("topk", "onebit", "onebit_adam", "onebit_frozen", "fp16", "lazy_topk"));

}  // namespace
}  // namespace autoglm::trainer

namespace autoglm::trainer {
namespace {

// Ranks without a shared file system: only world rank 0 reads checkpoints and
// sends the others what they need, so what another rank's disk holds (here a
// copy without the newest checkpoint, its LATEST pointing back) never matters:
// every rank resumes at rank 0's newest step.
TEST(DataParallel, ResumeFollowsRankZerosCheckpointWhateverTheOthersDisksHold) {
  auto world = test::worldComm();
  if (world->size() == 1) GTEST_SKIP() << "needs two ranks";
  SharedDir d(*world, "dp_confirm");
  ExperimentConfig cfg = tinyConfig(d / "run");
  cfg.train.max_steps = 4;
  cfg.train.checkpoint_every = 2;
  cfg.train.keep_checkpoints = 3;
  core::graph::PreparedData data = prepareData(cfg);
  std::vector<at::Tensor> at_step4;
  {
    ClassifierTrainer first(cfg, data, world);
    first.fit(false);
    for (const auto& p : first.model()->parameters()) at_step4.push_back(p.detach().clone());
  }
  world->barrier({})->wait();
  ExperimentConfig mine = cfg;
  if (world->rank() == 1) {
    mine.run.out_dir = d / "copy";
    fs::copy(d / "run", mine.run.out_dir, fs::copy_options::recursive);
    fs::remove_all(fs::path(mine.run.out_dir) / "checkpoints" / "step-00000004");
    std::ofstream(fs::path(mine.run.out_dir) / "checkpoints" / "LATEST") << "step-00000002\n";
  }
  if (world->rank() == 2) mine.run.out_dir = d / "empty";  // a host that holds nothing at all
  ClassifierTrainer again(mine, data, world);
  again.resumeFromNewest();
  EXPECT_EQ(again.globalStep(), 4);
  const auto got = again.model()->parameters();
  ASSERT_EQ(got.size(), at_step4.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(at::equal(got[i], at_step4[i])) << "parameter " << i;
}

}  // namespace
}  // namespace autoglm::trainer
