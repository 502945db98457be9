// The data-parallel step replay on a hand-computed overlapped bucket plan, and
// the pipeline replay on the real action tables against hand-computed makespans
// and the unit-cost bubble the schedule builder reports.
#include <gtest/gtest.h>

#include "core/error.h"
#include "parallel/pipeline/schedule.h"
#include "trainer/simulate/dp_step_model.h"
#include "trainer/simulate/pipeline_replay.h"

namespace autoglm::trainer::simulate {
namespace {

namespace dp = parallel::data_parallel;
namespace pp = parallel::pipeline;

// Parameters of 100, 200, 300 floats; 1200-byte buckets: bucket 0 = {p2},
// bucket 1 = {p1, p0}. Backward 6 ms shared by size: p2 ready at 3 ms, p1 at
// 5 ms, p0 at 6 ms. Two ranks on a link of 1 ms per message and no bandwidth
// cost: a plain all-reduce is 2 (p-1) = 2 messages = 2 ms.
DpStepInputs handCase() {
  DpStepInputs in;
  in.param_numels = {100, 200, 300};
  in.compute = {2e-3, 6e-3, 1e-3};
  in.bucket_bytes = 1200;
  in.dp.ranks = 2;
  in.dp.ranks_per_node = 2;
  in.dp.intra = comm::cost::LinkCost{1e-3, 0.0};
  in.dp.inter = in.dp.intra;
  return in;
}

TEST(DpStepModel, OverlappedBucketsByHand) {
  const DpStepPrediction p = predictDpStep(handCase());
  ASSERT_EQ(p.buckets.size(), 2u);
  EXPECT_EQ(p.buckets[0].numel, 300);
  EXPECT_EQ(p.buckets[1].numel, 300);
  EXPECT_NEAR(p.buckets[0].ready_s, 3e-3, 1e-12);
  EXPECT_NEAR(p.buckets[0].end_s, 5e-3, 1e-12);   // 3 -> 5 ms, hidden by backward
  EXPECT_NEAR(p.buckets[1].start_s, 6e-3, 1e-12);  // waits for p0
  EXPECT_NEAR(p.buckets[1].end_s, 8e-3, 1e-12);
  EXPECT_NEAR(p.exposed_s, 2e-3, 1e-12);
  EXPECT_NEAR(p.communication_s, 4e-3, 1e-12);
  EXPECT_NEAR(p.step_s, 2e-3 + 6e-3 + 1e-3 + 2e-3, 1e-12);
  EXPECT_DOUBLE_EQ(p.wire_bytes, 4.0 * 600);
}

TEST(DpStepModel, AfterBackwardSerialisesEverything) {
  DpStepInputs in = handCase();
  in.mode = dp::ReducerMode::kAfterBackward;
  const DpStepPrediction p = predictDpStep(in);
  EXPECT_NEAR(p.exposed_s, 4e-3, 1e-12);
  EXPECT_NEAR(p.step_s, 13e-3, 1e-12);
  in.mode = dp::ReducerMode::kOff;
  EXPECT_NEAR(predictDpStep(in).step_s, 9e-3, 1e-12);
}

// The compressor's own work (1 us per element here) lengthens each bucket on
// the reducer's thread: bucket 0 runs 3 -> 5.3 ms (2 ms of messages + 300 us),
// bucket 1 waits for p0 at 6 ms and ends at 8.3 ms; 2.3 ms exposed.
TEST(DpStepModel, CompressorWorkRunsOnTheReducerThread) {
  DpStepInputs in = handCase();
  in.compress_s_per_element = 1e-6;
  const DpStepPrediction p = predictDpStep(in);
  EXPECT_NEAR(p.buckets[0].end_s, 5.3e-3, 1e-12);
  EXPECT_NEAR(p.buckets[1].start_s, 6e-3, 1e-12);
  EXPECT_NEAR(p.buckets[1].end_s, 8.3e-3, 1e-12);
  EXPECT_NEAR(p.compress_s, 0.6e-3, 1e-12);
  EXPECT_NEAR(p.communication_s, 4.6e-3, 1e-12);
  EXPECT_NEAR(p.step_s, 9e-3 + 2.3e-3, 1e-12);
  in.dp.ranks = 1;  // nothing to reduce, nothing to compress
  EXPECT_NEAR(predictDpStep(in).step_s, 9e-3, 1e-12);
  in.compress_s_per_element = -1.0;
  EXPECT_THROW(predictDpStep(in), ConfigError);
}

// The reducer's passes over every element (1 us each here, 600 elements) add
// 0.6 ms of compute when there are peers, nothing alone.
TEST(DpStepModel, ReducerPassesAddComputeFromTwoRanks) {
  DpStepInputs in = handCase();
  in.reducer_s_per_element = 1e-6;
  const DpStepPrediction p = predictDpStep(in);
  EXPECT_NEAR(p.compute_s, 9.6e-3, 1e-12);
  EXPECT_NEAR(p.step_s, 9.6e-3 + 2e-3, 1e-12);
  in.dp.ranks = 1;
  EXPECT_NEAR(predictDpStep(in).step_s, 9e-3, 1e-12);
}

// The all-reduce's sums: (p-1)/p of each 300-element bucket at 2 ranks, 1 us
// per element: 150 us per bucket on the reducer thread; none for topk.
TEST(DpStepModel, AllreduceSumsRunOnTheReducerThread) {
  DpStepInputs in = handCase();
  in.sum_s_per_element = 1e-6;
  const DpStepPrediction p = predictDpStep(in);
  EXPECT_NEAR(p.buckets[0].end_s, 5.15e-3, 1e-12);
  EXPECT_NEAR(p.buckets[1].end_s, 8.15e-3, 1e-12);
  EXPECT_NEAR(p.compress_s, 0.3e-3, 1e-12);
  in.compression.type = dp::compression::CompressionType::kTopk;
  EXPECT_NEAR(predictDpStep(in).compress_s, 0.0, 1e-15);
}

TEST(DpStepModel, CompressorsByHand) {
  DpStepInputs in = handCase();
  in.compression.type = dp::compression::CompressionType::kFp16;
  EXPECT_DOUBLE_EQ(predictDpStep(in).wire_bytes, 2.0 * 600);

  // onebit, chunks of 128: the reducer aligns p0 to 256 in bucket 1 (356 elements).
  // Each bucket at 2 ranks: parts of 256 elements = 32 sign bytes + 2 scales = 40 bytes;
  // a max all-reduce of 4 flag bytes (2 messages), an all-to-all and an all-gather
  // (1 message each): 4 ms per bucket. Bucket 0: 3 -> 7 ms, bucket 1: 7 -> 11 ms.
  in.compression.type = dp::compression::CompressionType::kOnebit;
  in.compression.chunk_elems = 128;
  DpStepPrediction p = predictDpStep(in);
  ASSERT_EQ(p.buckets.size(), 2u);
  EXPECT_EQ(p.buckets[1].numel, 356);
  EXPECT_NEAR(p.buckets[0].end_s, 7e-3, 1e-12);
  EXPECT_NEAR(p.buckets[1].end_s, 11e-3, 1e-12);
  EXPECT_NEAR(p.exposed_s, 5e-3, 1e-12);
  EXPECT_DOUBLE_EQ(p.buckets[0].wire_bytes, 4 + 2 * 40 + 40);

  // topk 1 %: k = 3 per bucket, 24 bytes all-gathered; (p-1) = 1 message.
  in.compression.type = dp::compression::CompressionType::kTopk;
  in.compression.ratio = 0.01;
  p = predictDpStep(in);
  EXPECT_DOUBLE_EQ(p.wire_bytes, 48.0);
  EXPECT_NEAR(p.exposed_s, 1e-3, 1e-12);
}

TEST(DpStepModel, TopkGrowsWithRanksWhileOnebitDoesNot) {
  DpStepInputs in;
  in.param_numels = {int64_t{1} << 22};
  in.compute = {0.0, 0.0, 0.0};
  in.dp.ranks_per_node = 1;
  in.dp.inter = comm::cost::LinkCost::fromLatencyBandwidth(0.0, 10.0);
  in.dp.intra = in.dp.inter;
  auto at = [&](dp::compression::CompressionType type, int64_t ranks) {
    in.compression.type = type;
    in.dp.ranks = ranks;
    return predictDpStep(in).step_s;
  };
  using dp::compression::CompressionType;
  EXPECT_GT(at(CompressionType::kTopk, 256) / at(CompressionType::kTopk, 8), 30.0);
  EXPECT_LT(at(CompressionType::kOnebit, 256) / at(CompressionType::kOnebit, 8), 1.2);
  EXPECT_LT(at(CompressionType::kNone, 256) / at(CompressionType::kNone, 8), 1.2);
}

TEST(DpStepModel, RejectsBadInputs) {
  DpStepInputs in = handCase();
  in.param_backward_s = {1.0};
  EXPECT_THROW(predictDpStep(in), ConfigError);
  in = handCase();
  in.param_numels.clear();
  EXPECT_THROW(predictDpStep(in), ConfigError);
}

PipelineReplayInputs uniform(int stages, StageCosts c, comm::cost::LinkCost link, double bytes = 0.0) {
  PipelineReplayInputs in;
  in.stages.assign(static_cast<size_t>(stages), c);
  in.links.assign(static_cast<size_t>(stages - 1), link);
  in.activation_bytes = bytes;
  return in;
}

TEST(PipelineReplay, UnitCostsGiveTheBuildersBubble) {
  for (pp::ScheduleKind kind : {pp::ScheduleKind::kGpipe, pp::ScheduleKind::k1F1B}) {
    for (int p : {2, 3, 4}) {
      for (int m : {1, 4, 8}) {
        const pp::Table table = pp::buildSchedule(kind, p, m);
        const PipelineReplay r = replayPipeline(table, uniform(p, {1.0, 2.0, 0.0}, {}));
        EXPECT_NEAR(r.makespan_s, 3.0 * (m + p - 1), 1e-12) << core::enumName(kind) << " p=" << p << " m=" << m;
        EXPECT_NEAR(r.bubble, pp::simulatedBubble(kind, p, m), 1e-12);
        EXPECT_NEAR(r.bubble, double(p - 1) / (m + p - 1), 1e-12);
      }
    }
  }
}

TEST(PipelineReplay, LinkDelayByHand) {
  // GPipe, 2 stages, 2 micro-batches, F = B = 1, every message 0.5: stage 1
  // starts at 1.5, runs F F B B to 5.5; stage 0 gets the gradients at 5 and 6
  // (sent after each B), ends at 7. Busy 4 + 4 of 2 x 7.
  const pp::Table table = pp::buildSchedule(pp::ScheduleKind::kGpipe, 2, 2);
  const PipelineReplay r = replayPipeline(table, uniform(2, {1.0, 1.0, 0.0}, comm::cost::LinkCost{0.25, 0.25}, 1.0));
  EXPECT_NEAR(r.makespan_s, 7.0, 1e-12);
  EXPECT_NEAR(r.bubble, 1.0 - 8.0 / 14.0, 1e-12);
}

TEST(PipelineReplay, ZeroBubbleFillsWithWeightPasses) {
  const int p = 4, m = 8;
  const PipelineReplay split =
      replayPipeline(pp::buildSchedule(pp::ScheduleKind::kZbH1, p, m), uniform(p, {1.0, 1.0, 1.0}, {}));
  const PipelineReplay plain =
      replayPipeline(pp::buildSchedule(pp::ScheduleKind::k1F1B, p, m), uniform(p, {1.0, 2.0, 0.0}, {}));
  EXPECT_NEAR(split.bubble, pp::simulatedBubble(pp::ScheduleKind::kZbH1, p, m), 1e-12);
  EXPECT_LT(split.makespan_s, plain.makespan_s);
}

TEST(PipelineReplay, RejectsCostsThatDoNotFitTheTable) {
  const pp::Table table = pp::buildSchedule(pp::ScheduleKind::k1F1B, 3, 4);
  EXPECT_THROW(replayPipeline(table, uniform(2, {1.0, 1.0, 0.0}, {})), ConfigError);
  PipelineReplayInputs in = uniform(3, {1.0, 1.0, 0.0}, {});
  in.links.pop_back();
  EXPECT_THROW(replayPipeline(table, in), ConfigError);
}

}  // namespace
}  // namespace autoglm::trainer::simulate
