#include "trainer/simulate/simulate_config.h"

#include <algorithm>

#include "core/error.h"

namespace autoglm::trainer::simulate {

comm::cost::Topology ClusterConfig::topology(int64_t ranks) const {
  if (ranks < 1 || ranks > maxRanks()) {
    throw ConfigError(detail::concat("cluster '", name, "': ", ranks, " ranks requested, it has ", maxRanks(), " (",
                                     nodes, " nodes x ", ranks_per_node, " ranks)"));
  }
  comm::cost::Topology t;
  t.ranks = ranks;
  t.ranks_per_node = ranks_per_node;
  t.intra = intra.cost();
  t.inter = inter.cost();
  t.allreduce = allreduce;
  return t;
}

double CompressCompute::nanoseconds(parallel::data_parallel::compression::CompressionType type) const {
  using parallel::data_parallel::compression::CompressionType;
  switch (type) {
    case CompressionType::kNone: return 0.0;
    case CompressionType::kFp16: return fp16;
    case CompressionType::kBf16: return bf16;
    case CompressionType::kOnebit: return onebit;
    case CompressionType::kTopk: return topk;
  }
  return 0.0;
}

double CompressCompute::sumNanoseconds(parallel::data_parallel::compression::CompressionType type) const {
  using parallel::data_parallel::compression::CompressionType;
  switch (type) {
    case CompressionType::kNone: return sum_fp32;
    case CompressionType::kFp16: return sum_fp16;
    case CompressionType::kBf16: return sum_bf16;
    default: return 0.0;
  }
}

double WorkloadConfig::memoryPerRankMb(int64_t dp, int64_t shards) const {
  if (memory_mb <= 0) return 0.0;
  double params = 0.0;
  for (int64_t n : numels()) params += static_cast<double>(n);
  const double held = params / static_cast<double>(std::max<int64_t>(1, shards));
  const double shed = (params - held) * state_bytes_per_parameter / 1e6;
  const double buckets = dp > 1 ? held * 4.0 / 1e6 : 0.0;
  return memory_mb - shed + buckets;
}

std::vector<int64_t> WorkloadConfig::numels() const {
  if (!tensor_numels.empty()) return tensor_numels;
  std::vector<int64_t> out(static_cast<size_t>(tensors), parameters / tensors);
  for (int64_t i = 0; i < parameters % tensors; ++i) ++out[static_cast<size_t>(i)];
  return out;
}

namespace {

// A file whose one top-level section is `key`.
template <typename S>
S loadSection(const std::string& path, const std::string& key, const std::vector<std::string>& overrides) {
  YAML::Node root = core::loadYamlFile(path);
  for (const auto& o : overrides) core::applyOverride(root, o);
  if (!root.IsMap() || !root[key]) throw ConfigError(path + ": no '" + key + ":' section");
  S out;
  core::YamlReader reader(root, path);
  reader.section(key, out);
  reader.finish();
  return out;
}

}  // namespace

ClusterConfig loadCluster(const std::string& path, const std::vector<std::string>& overrides) {
  return loadSection<ClusterConfig>(path, "cluster", overrides);
}

WorkloadConfig loadWorkload(const std::string& path, const std::vector<std::string>& overrides) {
  WorkloadConfig w = loadSection<WorkloadConfig>(path, "workload", overrides);
  if (w.tensor_numels.empty() && w.parameters <= 0) {
    throw ConfigError(path + ": workload: give tensor_numels or parameters (> 0)");
  }
  if (!w.tensor_numels.empty() && w.parameters > 0) {
    throw ConfigError(path + ": workload: give tensor_numels or parameters, not both");
  }
  for (size_t i = 0; i < w.tensor_numels.size(); ++i) {
    if (w.tensor_numels[i] <= 0) {
      throw ConfigError(detail::concat(path, ": workload.tensor_numels[", i, "]=", w.tensor_numels[i], ": must be > 0"));
    }
  }
  if (w.tp > 1 && w.pipeline_stages > 1) {
    throw ConfigError(detail::concat(path, ": workload.tp=", w.tp, " with workload.pipeline_stages=",
                                     w.pipeline_stages, ": tensor and pipeline parallel together are not modelled"));
  }
  if (w.tensor_numels.empty() && w.tensors > w.parameters) {
    throw ConfigError(detail::concat(path, ": workload.tensors=", w.tensors, " exceeds parameters=", w.parameters));
  }
  return w;
}

}  // namespace autoglm::trainer::simulate
