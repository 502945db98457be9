#include "trainer/simulate/scaling_sweep.h"

#include <fmt/format.h>

#include <algorithm>
#include <ostream>

#include "core/error.h"
#include "parallel/pipeline/schedule.h"
#include "trainer/simulate/pipeline_replay.h"

namespace autoglm::trainer::simulate {

using parallel::data_parallel::compression::CompressionType;

std::vector<int64_t> defaultRankCounts(const ClusterConfig& cluster, int64_t stages) {
  std::vector<int64_t> out;
  for (int64_t p = stages; p <= cluster.maxRanks(); p *= 2) out.push_back(p);
  const int64_t most = cluster.maxRanks() / stages * stages;
  if (most >= stages && (out.empty() || out.back() != most)) out.push_back(most);
  return out;
}

namespace {

// `in` on ranks that compute `factor` times slower (ClusterConfig::computeSlowdown):
// the compute and every CPU cost per element scale alike.
DpStepInputs slowedBy(DpStepInputs in, double factor) {
  in.compute = {in.compute.forward_s * factor, in.compute.backward_s * factor, in.compute.optimizer_s * factor};
  in.compress_s_per_element *= factor;
  in.reducer_s_per_element *= factor;
  in.sum_s_per_element *= factor;
  return in;
}

// One step of `p` ranks as pipelines of `workload.pipeline_stages` stages
// (consecutive ranks), dp = p / stages replicas.
ScalingRow pipelineStep(const WorkloadConfig& workload, const ClusterConfig& cluster, int64_t p, DpStepInputs in) {
  const int64_t stages = workload.pipeline_stages;
  const int64_t m = workload.micro_batches;
  const double per = static_cast<double>(stages * m);
  ComputeTimes c = workload.compute();
  const double slow = cluster.computeSlowdown(p);
  c = {c.forward_s * slow, c.backward_s * slow, c.optimizer_s * slow};
  PipelineReplayInputs pin;
  StageCosts stage{c.forward_s / per, c.backward_s / per, 0.0};
  if (parallel::pipeline::splitsBackward(workload.schedule)) {
    stage.backward_s = stage.weight_s = c.backward_s / per / 2.0;
  }
  pin.stages.assign(static_cast<size_t>(stages), stage);
  pin.activation_bytes = workload.activation_mb * 1e6;
  const comm::cost::Topology all = cluster.topology(p);
  for (int64_t s = 0; s + 1 < stages; ++s) {
    const bool same_node = s / cluster.ranks_per_node == (s + 1) / cluster.ranks_per_node;
    pin.links.push_back(same_node ? all.intra : all.inter);
  }
  const PipelineReplay replay =
      replayPipeline(parallel::pipeline::buildSchedule(workload.schedule, static_cast<int>(stages), static_cast<int>(m)), pin);

  // Each stage's share of the parameters, reduced over its replicas after the pipeline drains:
  // the replicas of a stage are `stages` ranks apart, so a node holds ranks_per_node / stages of them.
  std::vector<int64_t> share;
  for (int64_t n : in.param_numels) share.push_back(std::max<int64_t>(1, n / stages));
  in.param_numels = share;
  in.param_backward_s.clear();
  in = slowedBy(in, slow);
  in.compute = {};
  in.mode = parallel::data_parallel::ReducerMode::kAfterBackward;
  in.dp = all;
  in.dp.ranks = p / stages;
  in.dp.ranks_per_node = std::max<int64_t>(1, cluster.ranks_per_node / stages);
  const DpStepPrediction reduce = predictDpStep(in);

  ScalingRow row;
  row.ranks = p;
  row.nodes = all.nodes();
  row.bubble = replay.bubble;
  row.step = reduce;
  row.step.compute_s = c.total();
  row.step.exposed_s = reduce.communication_s;
  row.step.step_s = replay.makespan_s + reduce.communication_s + c.optimizer_s / static_cast<double>(stages);
  return row;
}

// One step of `p` ranks as replicas of `workload.tp` consecutive ranks each:
// compute and parameters split over the group, tp's collectives on the group's
// links (blocking), then each shard's gradients reduced over its dp = p / tp
// replicas (ranks tp apart, so a node holds ranks_per_node / tp of them).
ScalingRow tensorParallelStep(const WorkloadConfig& workload, const ClusterConfig& cluster, int64_t p, DpStepInputs in) {
  const int64_t tp = workload.tp;
  in = slowedBy(in, cluster.computeSlowdown(p));
  const double share = 1.0 / static_cast<double>(tp);
  in.compute = {in.compute.forward_s * share, in.compute.backward_s * share, in.compute.optimizer_s * share};
  for (int64_t& n : in.param_numels) n = std::max<int64_t>(1, n / tp);
  const comm::cost::Topology all = cluster.topology(p);
  in.dp = all;
  in.dp.ranks = p / tp;
  in.dp.ranks_per_node = std::max<int64_t>(1, cluster.ranks_per_node / tp);
  comm::cost::Topology group = all;
  group.ranks = tp;
  const TpStepCost tp_cost = tpStepCost(workload.tp_shape, workload.samples_per_rank, group);

  ScalingRow row;
  row.ranks = p;
  row.nodes = all.nodes();
  row.step = predictDpStep(in);
  row.tp_s = tp_cost.seconds;
  row.step.step_s += tp_cost.seconds;
  row.step.exposed_s += tp_cost.seconds;
  row.step.communication_s += tp_cost.seconds;
  row.step.wire_bytes += tp_cost.bytes;
  return row;
}

}  // namespace

std::vector<ScalingRow> sweepDataParallel(const WorkloadConfig& workload, const ClusterConfig& cluster,
                                          const std::vector<int64_t>& ranks,
                                          const std::vector<CompressionType>& compressors) {
  std::vector<ScalingRow> rows;
  for (CompressionType type : compressors) {
    DpStepInputs in;
    in.param_numels = workload.numels();
    in.compute = workload.compute();
    in.bucket_bytes = static_cast<int64_t>(workload.bucket_mb * 1024.0 * 1024.0);
    in.mode = workload.reducer_mode;
    in.compression = workload.compression;
    in.compression.type = type;
    in.compress_s_per_element = workload.compress_ns_per_element.nanoseconds(type) * 1e-9;
    in.reducer_s_per_element = workload.reducer_ns_per_element * 1e-9;
    in.sum_s_per_element = workload.compress_ns_per_element.sumNanoseconds(type) * 1e-9;
    in.dp = cluster.topology(1);
    const double single = predictDpStep(in).step_s;
    const int64_t stages = workload.pipeline_stages;
    for (int64_t p : ranks) {
      if (p % stages != 0) {
        throw ConfigError(detail::concat("simulate: ", p, " ranks are not a multiple of workload.pipeline_stages=",
                                         stages));
      }
      if (p % workload.tp != 0) {
        throw ConfigError(detail::concat("simulate: ", p, " ranks are not a multiple of workload.tp=", workload.tp));
      }
      ScalingRow row;
      if (stages > 1) {
        row = pipelineStep(workload, cluster, p, in);
      } else if (workload.tp > 1) {
        row = tensorParallelStep(workload, cluster, p, in);
      } else {
        DpStepInputs at = slowedBy(in, cluster.computeSlowdown(p));
        at.dp = cluster.topology(p);
        row.ranks = p;
        row.nodes = at.dp.nodes();
        row.step = predictDpStep(at);
      }
      row.compressor = type;
      const int64_t span = stages * workload.tp;  // ranks per replica
      const double replicas = static_cast<double>(p / span);
      row.samples_per_s =
          row.step.step_s > 0 ? replicas * static_cast<double>(workload.samples_per_rank) / row.step.step_s : 0.0;
      row.efficiency = row.step.step_s > 0 ? single / (static_cast<double>(span) * row.step.step_s) : 1.0;
      row.memory_mb = workload.memoryPerRankMb(p / span, span);
      rows.push_back(row);
    }
  }
  return rows;
}

void printScalingTable(const std::vector<ScalingRow>& rows, std::ostream& out) {
  out << "| ranks | nodes | compression | step ms | exposed comm ms | comm busy ms | MB sent per rank | bubble | "
         "samples/s | efficiency | memory MB per rank |\n|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const ScalingRow& r : rows) {
    out << fmt::format("| {} | {} | {} | {:.2f} | {:.2f} | {:.2f} | {:.2f} | {:.3f} | {:.1f} | {:.1f} % | {} |\n",
                       r.ranks, r.nodes, core::enumName(r.compressor), r.step.step_s * 1e3, r.step.exposed_s * 1e3,
                       r.step.communication_s * 1e3, r.step.wire_bytes / 1e6, r.bubble, r.samples_per_s,
                       100.0 * r.efficiency, r.memory_mb > 0 ? fmt::format("{:.0f}", r.memory_mb) : "-");
  }
}

void writeScalingCsv(const std::vector<ScalingRow>& rows, std::ostream& out) {
  out << "ranks,nodes,compression,step_s,compute_s,exposed_s,communication_s,wire_bytes,bubble,samples_per_s,"
         "efficiency,tp_s,memory_mb\n";
  for (const ScalingRow& r : rows) {
    out << fmt::format("{},{},{},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g},{:.6f},{:.9g},{:.6f},{:.9g},{:.1f}\n", r.ranks,
                       r.nodes, core::enumName(r.compressor), r.step.step_s, r.step.compute_s, r.step.exposed_s,
                       r.step.communication_s, r.step.wire_bytes, r.bubble, r.samples_per_s, r.efficiency, r.tp_s,
                       r.memory_mb);
  }
}

}  // namespace autoglm::trainer::simulate
