#include "launch/simulate_command.h"

#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <ostream>

#include "comm/cost/alpha_beta_fit.h"
#include "core/error.h"
#include "trainer/simulate/profile.h"
#include "trainer/simulate/scaling_sweep.h"
#include "trainer/simulate/simulate_config.h"

namespace autoglm::launch {

namespace sim = trainer::simulate;
using parallel::data_parallel::compression::CompressionType;

namespace {

std::vector<std::string> splitCsv(const std::string& line) {
  std::vector<std::string> out;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, ',')) out.push_back(field);
  return out;
}

}  // namespace

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
  const std::vector<int64_t> ranks =
      opts.ranks.empty() ? sim::defaultRankCounts(cluster, workload.pipeline_stages * workload.tp) : opts.ranks;
  const std::vector<sim::ScalingRow> rows = sim::sweepDataParallel(workload, cluster, ranks, compressors);

  const std::vector<int64_t> numels = workload.numels();
  int64_t params = 0;
  for (int64_t n : numels) params += n;
  out << fmt::format("workload '{}': {} parameters in {} tensors, {} samples per rank, compute {:.2f} + {:.2f} + "
                     "{:.2f} ms (forward, backward, optimizer), buckets of {} MB\n",
                     workload.name, params, numels.size(), workload.samples_per_rank,
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

int runFit(const FitOptions& opts, std::ostream& out) {
  std::ifstream in(opts.csv);
  if (!in) throw DataError(opts.csv + ": cannot open");
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header = splitCsv(line);
  auto column = [&](const std::string& name) {
    const auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end()) throw DataError(opts.csv + ":1: no column '" + name + "'");
    return static_cast<size_t>(it - header.begin());
  };
  const size_t c_ranks = column("ranks"), c_bytes = column("bytes"), c_time = column(opts.column);
  std::map<int64_t, std::vector<comm::cost::TimingSample>> by_ranks;
  for (int64_t n = 2; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    const std::vector<std::string> f = splitCsv(line);
    try {
      if (f.size() != header.size()) throw std::invalid_argument("field count");
      by_ranks[std::stoll(f[c_ranks])].push_back({std::stod(f[c_bytes]), std::stod(f[c_time]) * 1e-6});
    } catch (const std::exception&) {
      throw DataError(fmt::format("{}:{}: expected {} numeric fields (ranks, bytes, {})", opts.csv, n, header.size(),
                                  opts.column));
    }
  }
  if (by_ranks.empty()) throw DataError(opts.csv + ": no timings");
  for (const auto& [ranks, samples] : by_ranks) {
    const comm::cost::AlphaBetaFit fit = comm::cost::fitAlphaBeta(comm::cost::Collective::kAllreduce, ranks, samples);
    out << fmt::format("{} ranks, {} sizes: alpha {:.2f} us, beta {:.4g} s/B ({:.2f} Gbit/s); relative error median "
                       "{:.1f} %, worst {:.1f} %\n",
                       ranks, fit.samples, fit.link.alpha_s * 1e6, fit.link.beta_s_per_byte, fit.link.gbitPerSecond(),
                       100 * fit.median_relative_error, 100 * fit.max_relative_error);
    out << fmt::format("  cluster file: {{bandwidth_gbit: {:.3g}, latency_us: {:.3g}}}\n", fit.link.gbitPerSecond(),
                       fit.link.alpha_s * 1e6);
  }
  return 0;
}

int runProfile(const SimulateOptions& opts, std::ostream& out) {
  const trainer::ExperimentConfig cfg = trainer::ExperimentConfig::load(opts.profile, opts.overrides);
  sim::ProfileOptions po;
  po.steps = opts.profile_steps;
  std::ostringstream log;
  sim::ProfileResult r = sim::profileExperiment(cfg, po, log);
  r.workload.name = std::filesystem::path(opts.profile).stem().string();
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  const std::time_t now = std::time(nullptr);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%MZ", std::gmtime(&now));
  r.workload.source = fmt::format("autoglm simulate --profile {} on {} at {}, {} timed steps after {}", opts.profile,
                                  host, when, po.steps, po.warmup_steps);
  std::vector<std::string> comment = {
      fmt::format("Measured from {} on one process (layout forced to 1 x 1 x 1).", opts.profile),
      fmt::format("Step: median {:.2f} ms (min {:.2f}, max {:.2f}) over {} steps; peak RSS {:.1f} MB.",
                  r.step_ms_median, r.step_ms_min, r.step_ms_max, po.steps, r.peak_rss_mb)};
  for (const std::string& o : opts.overrides) comment.push_back("--set " + o);
  if (r.row_sparse_parameters > 0) {
    comment.push_back(fmt::format("train.embedding_update is not dense: the model treats the {} embedding elements "
                                  "as a dense gradient",
                                  r.row_sparse_parameters));
  }
  std::ostringstream yaml;
  sim::writeWorkloadYaml(r.workload, comment, yaml);
  if (opts.out.empty()) {
    out << yaml.str();
  } else {
    std::ofstream f(opts.out);
    if (!f || !(f << yaml.str()) || !f.flush()) throw Error("simulate --profile: cannot write " + opts.out);
    out << log.str() << fmt::format("workload: {} ({} tensors), step {:.2f} ms = {:.2f} + {:.2f} + {:.2f}; peak RSS "
                                    "{:.1f} MB\n",
                                    opts.out, r.workload.tensor_numels.size(), r.step_ms_median,
                                    r.workload.forward_ms, r.workload.backward_ms, r.workload.optimizer_ms,
                                    r.peak_rss_mb);
  }
  return 0;
}

int runSimulateCommand(const SimulateOptions& simulate, const FitOptions& fit, std::ostream& out) {
  if (!simulate.profile.empty()) {
    if (!simulate.workload.empty() || !simulate.cluster.empty() || !fit.csv.empty()) {
      throw ConfigError("simulate: --profile CONFIG takes no WORKLOAD, no --cluster and no --fit");
    }
    return runProfile(simulate, out);
  }
  if (!fit.csv.empty()) {
    if (!simulate.workload.empty() || !simulate.cluster.empty()) {
      throw ConfigError("simulate: --fit takes no WORKLOAD and no --cluster");
    }
    return runFit(fit, out);
  }
  if (simulate.workload.empty() || simulate.cluster.empty()) {
    throw ConfigError("simulate: give a WORKLOAD file and --cluster CLUSTER.yaml (or --fit TIMINGS.csv)");
  }
  return runSimulate(simulate, out);
}

}  // namespace autoglm::launch
