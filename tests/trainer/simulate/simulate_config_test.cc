// The simulate inputs (cluster and workload files) and the scaling sweep.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "trainer/simulate/scaling_sweep.h"
#include "trainer/simulate/simulate_config.h"
#include "trainer/simulate/tp_step_model.h"

namespace autoglm::trainer::simulate {
namespace {

std::string writeFile(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / ("autoglm_simulate_" + name);
  std::ofstream(path) << text;
  return path.string();
}

TEST(SimulateConfig, ShippedFilesLoad) {
  const std::string root = AUTOGLM_SOURCE_ROOT;
  const ClusterConfig c = loadCluster(root + "/configs/clusters/horovod_roce25.yaml");
  EXPECT_EQ(c.maxRanks(), 512);
  EXPECT_EQ(c.topology(512).nodes(), 128);
  const WorkloadConfig w = loadWorkload(root + "/configs/workloads/resnet101_p100.yaml");
  int64_t total = 0;
  for (int64_t n : w.numels()) total += n;
  EXPECT_EQ(total, 44549160);
  EXPECT_EQ(w.numels().size(), 314u);
}

TEST(SimulateConfig, ErrorsNameFileLineAndKey) {
  const std::string bad = writeFile("bad_cluster.yaml", "cluster:\n  nodes: 2\n  ranks_per_nod: 4\n");
  try {
    loadCluster(bad);
    FAIL() << "unknown key accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("ranks_per_nod"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
  }
  const std::string zero = writeFile("zero_bw.yaml", "cluster:\n  inter:\n    bandwidth_gbit: 0\n");
  EXPECT_THROW(loadCluster(zero), ConfigError);
  EXPECT_THROW(loadCluster(writeFile("no_section.yaml", "nodes: 2\n")), ConfigError);
  const std::string both =
      writeFile("both.yaml", "workload:\n  parameters: 10\n  tensor_numels: [4, 6]\n");
  EXPECT_THROW(loadWorkload(both), ConfigError);
  EXPECT_THROW(loadWorkload(writeFile("none.yaml", "workload:\n  name: x\n")), ConfigError);
  // Overrides reach the file's values.
  const ClusterConfig c = loadCluster(writeFile("ok.yaml", "cluster:\n  nodes: 2\n"), {"cluster.nodes=8"});
  EXPECT_EQ(c.nodes, 8);
  EXPECT_THROW(c.topology(9), ConfigError);
}

TEST(SimulateConfig, EvenSplitKeepsEveryParameter) {
  WorkloadConfig w;
  w.parameters = 10;
  w.tensors = 3;
  EXPECT_EQ(w.numels(), (std::vector<int64_t>{4, 3, 3}));
}

TEST(ScalingSweep, EfficiencyFallsWithRanksAndStartsAtOne) {
  ClusterConfig c;
  c.nodes = 16;
  c.ranks_per_node = 4;
  WorkloadConfig w;
  w.parameters = 25000000;
  w.tensors = 100;
  w.samples_per_rank = 32;
  w.forward_ms = 50;
  w.backward_ms = 100;
  using parallel::data_parallel::compression::CompressionType;
  const auto rows = sweepDataParallel(w, c, defaultRankCounts(c), {CompressionType::kNone, CompressionType::kFp16});
  ASSERT_EQ(rows.size(), 14u);  // 1..64: 7 counts, 2 compressors
  EXPECT_DOUBLE_EQ(rows[0].efficiency, 1.0);
  EXPECT_NEAR(rows[0].samples_per_s, 32 / 0.150, 1e-9);
  for (size_t i = 1; i < 7; ++i) EXPECT_LE(rows[i].efficiency, rows[i - 1].efficiency + 1e-12);
  // Half the bytes: fp16 at least as efficient as fp32 at every count.
  for (size_t i = 0; i < 7; ++i) EXPECT_GE(rows[7 + i].efficiency, rows[i].efficiency - 1e-12);
  std::ostringstream table, csv;
  printScalingTable(rows, table);
  writeScalingCsv(rows, csv);
  EXPECT_NE(table.str().find("| 64 | 16 | fp16 |"), std::string::npos) << table.str();
  const std::string text = csv.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 15);
}

// Emulated hosts sharing 2 cores: at 4 and 8 ranks each rank computes 2x and
// 4x slower; with free links the step is exactly that, and the compressor's
// work per element slows down alike.
TEST(ScalingSweep, SharedCoresSlowComputeByRanksOverCores) {
  ClusterConfig c;
  c.nodes = 2;
  c.ranks_per_node = 4;
  c.compute_cores = 2;
  c.intra = {1e6, 0.0};
  c.inter = {1e6, 0.0};
  EXPECT_DOUBLE_EQ(c.computeSlowdown(2), 1.0);
  EXPECT_DOUBLE_EQ(c.computeSlowdown(8), 4.0);
  WorkloadConfig w;
  w.parameters = 1000;
  w.forward_ms = 10;
  w.backward_ms = 20;
  w.bucket_mb = 1;
  w.compress_ns_per_element.fp16 = 1000;  // 1 us per element: 1 ms per 1000-element bucket
  using parallel::data_parallel::compression::CompressionType;
  const auto rows = sweepDataParallel(w, c, {1, 2, 4, 8}, {CompressionType::kNone, CompressionType::kFp16});
  ASSERT_EQ(rows.size(), 8u);
  EXPECT_NEAR(rows[1].step.step_s, 30e-3, 1e-9);
  EXPECT_NEAR(rows[2].step.step_s, 60e-3, 1e-9);
  EXPECT_NEAR(rows[3].step.step_s, 120e-3, 1e-9);
  EXPECT_NEAR(rows[5].step.step_s, 31e-3, 1e-9);   // fp16: the bucket's 1 ms after backward
  EXPECT_NEAR(rows[7].step.step_s, 124e-3, 1e-9);  // 4x compute, 4x its 1 ms
  EXPECT_NEAR(rows[7].step.compress_s, 4e-3, 1e-9);
  c.busy_compute_factor = 1.25;  // from 2 ranks on, every core busy
  EXPECT_DOUBLE_EQ(c.computeSlowdown(1), 1.0);
  EXPECT_DOUBLE_EQ(c.computeSlowdown(2), 1.25);
  EXPECT_DOUBLE_EQ(c.computeSlowdown(8), 5.0);
  c.compute_cores = 0;
  EXPECT_DOUBLE_EQ(c.computeSlowdown(8), 1.25);
}

// Tensor parallel by hand: N = 100 nodes, D = 10, W = 8, 2 layers, R = 16, C = 4,
// B = 2 graphs; tp = 2 on one node over a link of 1 ms per message and 1 us per
// byte. All-reduce of n bytes at 2 ranks: 2 (1 ms + n/2 us); all-gather of s
// bytes per rank: 1 ms + s us.
//   embedding all-reduce 4000 B       2 + 4 = 6 ms
//   block 0 all-gather 1600 B/rank    1 + 1.6 = 2.6 ms; backward all-reduce 4000 B: 6 ms
//   block 1 all-gather 1600 B/rank    2.6 ms; backward all-reduce 3200 B: 2 + 3.2 = 5.2 ms
//   head logits 32 B: 2.032 ms; head input 128 B: 2.128 ms     total 26.56 ms
TEST(ScalingSweep, TensorParallelCollectivesByHand) {
  TpShape shape;
  shape.nodes_per_step = 100;
  shape.embed_dim = 10;
  shape.block_width = 8;
  shape.layers = 2;
  shape.readout_width = 16;
  shape.classes = 4;
  comm::cost::Topology group;
  group.ranks = 2;
  group.ranks_per_node = 2;
  group.intra = {1e-3, 1e-6};
  const TpStepCost c = tpStepCost(shape, 2, group);
  EXPECT_EQ(c.collectives, 7);
  EXPECT_NEAR(c.seconds, 26.56e-3, 1e-9);
  EXPECT_DOUBLE_EQ(c.bytes, 4000 + 1600 + 4000 + 1600 + 3200 + 32 + 128);
  group.ranks = 1;
  EXPECT_DOUBLE_EQ(tpStepCost(shape, 2, group).seconds, 0.0);
  group.ranks = 2;
  EXPECT_THROW(tpStepCost(TpShape{}, 2, group), ConfigError);

  // In the sweep: tp = 2 on 2 ranks (dp = 1, nothing to reduce): compute halves,
  // the collectives add, efficiency = step(1) / (2 step(2)).
  ClusterConfig cl;
  cl.nodes = 1;
  cl.ranks_per_node = 4;
  WorkloadConfig w;
  w.parameters = 1000;
  w.forward_ms = 10;
  w.backward_ms = 20;
  w.samples_per_rank = 2;
  w.tp = 2;
  w.tp_shape = shape;
  using parallel::data_parallel::compression::CompressionType;
  cl.intra = {8e-3, 1000.0};  // 8e-3 Gbit/s = 1 us per byte, 1000 us per message
  const auto rows = sweepDataParallel(w, cl, {2}, {CompressionType::kNone});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_NEAR(rows[0].tp_s, 26.56e-3, 1e-9);
  EXPECT_NEAR(rows[0].step.step_s, 15e-3 + 26.56e-3, 1e-9);  // dp = 1: no gradient reduction
  EXPECT_NEAR(rows[0].efficiency, 30e-3 / (2 * (15e-3 + 26.56e-3)), 1e-9);
  EXPECT_THROW(sweepDataParallel(w, cl, {3}, {CompressionType::kNone}), ConfigError);
}

// Memory per rank by hand: 1 M parameters, 100 MB alone. dp only adds the
// buckets (4 MB); 4 shards (tp x stages) shed 3/4 of 16 MB of state and add
// the buckets of the quarter they hold (1 MB) when they have dp peers.
TEST(ScalingSweep, MemoryPerRankByHand) {
  WorkloadConfig w;
  w.parameters = 1000000;
  EXPECT_DOUBLE_EQ(w.memoryPerRankMb(8, 1), 0.0);  // not known
  w.memory_mb = 100;
  EXPECT_DOUBLE_EQ(w.memoryPerRankMb(1, 1), 100.0);
  EXPECT_DOUBLE_EQ(w.memoryPerRankMb(8, 1), 104.0);
  EXPECT_DOUBLE_EQ(w.memoryPerRankMb(1, 4), 88.0);
  EXPECT_DOUBLE_EQ(w.memoryPerRankMb(2, 4), 89.0);
}

TEST(ScalingSweep, PipelineEfficiencyIsOneMinusTheBubble) {
  // Free links, 1F1B over 4 stages and 8 micro-batches: each replica's step is (m + p - 1)
  // micro-batch slots of 1/(p m) of the work, so efficiency = m / (m + p - 1) = 8/11.
  ClusterConfig c;
  c.nodes = 2;
  c.ranks_per_node = 4;
  c.intra = {1e6, 0.0};
  c.inter = {1e6, 0.0};
  WorkloadConfig w;
  w.parameters = 1000;
  w.forward_ms = 30;
  w.backward_ms = 60;
  w.pipeline_stages = 4;
  w.micro_batches = 8;
  using parallel::data_parallel::compression::CompressionType;
  const auto rows = sweepDataParallel(w, c, defaultRankCounts(c, 4), {CompressionType::kNone});
  ASSERT_EQ(rows.size(), 2u);  // 4 and 8 ranks
  EXPECT_NEAR(rows[0].efficiency, 8.0 / 11.0, 1e-6);
  EXPECT_NEAR(rows[0].bubble, 3.0 / 11.0, 1e-9);
  EXPECT_NEAR(rows[0].step.step_s, 11 * 0.090 / 32, 1e-9);
  EXPECT_NEAR(rows[1].efficiency, 8.0 / 11.0, 1e-4);  // two replicas, near-free all-reduce
  EXPECT_NEAR(rows[1].samples_per_s, 2 * rows[0].samples_per_s, 1e-3 * rows[0].samples_per_s);
  // A slow link between stages stretches the step.
  c.intra = {25.0, 1000.0};
  w.activation_mb = 1.0;
  EXPECT_LT(sweepDataParallel(w, c, {4}, {CompressionType::kNone})[0].efficiency, 8.0 / 11.0 - 0.01);
  EXPECT_THROW(sweepDataParallel(w, c, {6}, {CompressionType::kNone}), ConfigError);
}

}  // namespace
}  // namespace autoglm::trainer::simulate
