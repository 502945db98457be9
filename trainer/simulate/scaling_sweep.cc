#include "trainer/simulate/scaling_sweep.h"

#include <fmt/format.h>

#include <ostream>

#include "core/error.h"

namespace autoglm::trainer::simulate {

using parallel::data_parallel::compression::CompressionType;

std::vector<int64_t> defaultRankCounts(const ClusterConfig& cluster) {
  std::vector<int64_t> out;
  for (int64_t p = 1; p <= cluster.maxRanks(); p *= 2) out.push_back(p);
  if (out.back() != cluster.maxRanks()) out.push_back(cluster.maxRanks());
  return out;
}

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
    in.dp = cluster.topology(1);
    const double single = predictDpStep(in).step_s;
    for (int64_t p : ranks) {
      in.dp = cluster.topology(p);
      ScalingRow row;
      row.ranks = p;
      row.nodes = in.dp.nodes();
      row.compressor = type;
      row.step = predictDpStep(in);
      row.samples_per_s = row.step.step_s > 0
                              ? static_cast<double>(p * workload.samples_per_rank) / row.step.step_s
                              : 0.0;
      row.efficiency = row.step.step_s > 0 ? single / row.step.step_s : 1.0;
      rows.push_back(row);
    }
  }
  return rows;
}

void printScalingTable(const std::vector<ScalingRow>& rows, std::ostream& out) {
  out << "| ranks | nodes | compression | step ms | exposed comm ms | comm busy ms | MB sent per rank | samples/s | "
         "efficiency |\n|---:|---:|---|---:|---:|---:|---:|---:|---:|\n";
  for (const ScalingRow& r : rows) {
    out << fmt::format("| {} | {} | {} | {:.2f} | {:.2f} | {:.2f} | {:.2f} | {:.1f} | {:.1f} % |\n", r.ranks,
                       r.nodes, core::enumName(r.compressor), r.step.step_s * 1e3, r.step.exposed_s * 1e3,
                       r.step.communication_s * 1e3, r.step.wire_bytes / 1e6, r.samples_per_s,
                       100.0 * r.efficiency);
  }
}

void writeScalingCsv(const std::vector<ScalingRow>& rows, std::ostream& out) {
  out << "ranks,nodes,compression,step_s,compute_s,exposed_s,communication_s,wire_bytes,samples_per_s,efficiency\n";
  for (const ScalingRow& r : rows) {
    out << fmt::format("{},{},{},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g},{:.6f}\n", r.ranks, r.nodes,
                       core::enumName(r.compressor), r.step.step_s, r.step.compute_s, r.step.exposed_s,
                       r.step.communication_s, r.step.wire_bytes, r.samples_per_s, r.efficiency);
  }
}

}  // namespace autoglm::trainer::simulate
