#include "launch/simulate_command.h"

#include <fmt/format.h>

#include <fstream>
#include <ostream>

#include "core/error.h"
#include "trainer/simulate/scaling_sweep.h"
#include "trainer/simulate/simulate_config.h"

namespace autoglm::launch {

namespace sim = trainer::simulate;
using parallel::data_parallel::compression::CompressionType;

int runSimulate(const SimulateOptions& opts, std::ostream& out) {
  std::vector<std::string> cluster_overrides, workload_overrides;
  for (const std::string& o : opts.overrides) {
    if (o.rfind("cluster.", 0) == 0) {
      cluster_overrides.push_back(o);
    } else if (o.rfind("workload.", 0) == 0) {
      workload_overrides.push_back(o);
    } else {
      throw ConfigError("simulate: --set " + o + ": keys start with cluster. or workload.");
    }
  }
  const sim::ClusterConfig cluster = sim::loadCluster(opts.cluster, cluster_overrides);
  const sim::WorkloadConfig workload = sim::loadWorkload(opts.workload, workload_overrides);
  std::vector<CompressionType> compressors;
  for (const std::string& name : opts.compressors) {
    const auto type = core::parseEnum<CompressionType>(name);
    if (!type) {
      throw ConfigError(fmt::format("simulate: --compressors {}: must be one of: {}", name,
                                    core::enumChoices<CompressionType>()));
    }
    compressors.push_back(*type);
  }
  if (compressors.empty()) compressors.push_back(workload.compression.type);
  const std::vector<int64_t> ranks = opts.ranks.empty() ? sim::defaultRankCounts(cluster, workload.pipeline_stages) : opts.ranks;
  const std::vector<sim::ScalingRow> rows = sim::sweepDataParallel(workload, cluster, ranks, compressors);

  int64_t params = 0;
  for (int64_t n : workload.numels()) params += n;
  out << fmt::format("workload '{}': {} parameters in {} tensors, {} samples per rank, compute {:.2f} + {:.2f} + "
                     "{:.2f} ms (forward, backward, optimizer), buckets of {} MB\n",
                     workload.name, params, workload.numels().size(), workload.samples_per_rank,
                     workload.forward_ms, workload.backward_ms, workload.optimizer_ms, workload.bucket_mb);
  out << fmt::format("cluster '{}': {} nodes x {} ranks, intra {} Gbit/s {} us, inter {} Gbit/s {} us, {} "
                     "all-reduce\n\n",
                     cluster.name, cluster.nodes, cluster.ranks_per_node, cluster.intra.bandwidth_gbit,
                     cluster.intra.latency_us, cluster.inter.bandwidth_gbit, cluster.inter.latency_us,
                     core::enumName(cluster.allreduce));
  sim::printScalingTable(rows, out);
  if (!opts.csv.empty()) {
    std::ofstream csv(opts.csv);
    if (!csv) throw Error("simulate: cannot write " + opts.csv);
    sim::writeScalingCsv(rows, csv);
    if (!csv.flush()) throw Error("simulate: cannot write " + opts.csv);
    out << "\nCSV: " << opts.csv << "\n";
  }
  return 0;
}

}  // namespace autoglm::launch
