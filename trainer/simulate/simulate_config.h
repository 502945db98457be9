#pragma once
// The inputs of `autoglm simulate` as YAML files:
//
//   a cluster (configs/clusters/*.yaml, top-level `cluster:`): nodes, ranks per
//   node, the links inside a node and between nodes (bandwidth, latency), the
//   all-reduce algorithm, and where the figures come from;
//
//   a workload (top-level `workload:`): a model given by its figures, for models
//   that are not this framework's (the published runs the model is checked
//   against): its parameter tensors, one rank's forward, backward and optimizer
//   time at its per-rank batch, the reducer's bucket size and compression.
//
// Unknown keys and values out of range are ConfigError naming file:line: key.

#include <cstdint>
#include <string>
#include <vector>

#include "comm/cost/collective_cost.h"
#include "core/yaml_config.h"
#include "parallel/data_parallel/compression/compression_config.h"
#include "parallel/data_parallel/reducer_options.h"
#include "parallel/pipeline/pipeline_config.h"
#include "trainer/simulate/dp_step_model.h"
#include "trainer/simulate/tp_step_model.h"

namespace autoglm::trainer::simulate {

struct LinkConfig {
  double bandwidth_gbit = 25.0;  // Gbit/s, each direction
  double latency_us = 10.0;      // per message, software overhead included

  comm::cost::LinkCost cost() const { return comm::cost::LinkCost::fromLatencyBandwidth(latency_us, bandwidth_gbit); }
  template <class V>
  void visit(V& v) {
    v.field("bandwidth_gbit", bandwidth_gbit, core::check::greaterThan(0.0));
    v.field("latency_us", latency_us, core::check::atLeast(0.0));
  }
};

struct ClusterConfig {
  std::string name;
  std::string source;  // where the figures come from (measured here, a vendor sheet, a paper)
  int64_t nodes = 1;
  int64_t ranks_per_node = 1;
  LinkConfig intra{100.0, 2.0};
  LinkConfig inter{25.0, 10.0};
  comm::cost::AllreduceAlgorithm allreduce = comm::cost::AllreduceAlgorithm::kRing;
  // CPU cores all ranks of the cluster share: 0 = every rank has its own (a real
  // cluster). Emulated hosts on one machine share its cores: p ranks on c cores
  // run each rank's compute p / c times slower (p > c), which the model applies.
  int64_t compute_cores = 0;
  // How much slower one rank computes when every core of its machine computes
  // at once (shared memory bandwidth and caches) than when it runs alone, as the
  // workload was profiled: applied from 2 ranks on. Measured by profiling on
  // every core at once (benchmarks/scaling/emulated.sh); 1 = no such effect.
  double busy_compute_factor = 1.0;

  // How much slower each rank computes at `ranks` ranks (>= 1).
  double computeSlowdown(int64_t ranks) const {
    const double share = compute_cores > 0 && ranks > compute_cores
                             ? static_cast<double>(ranks) / static_cast<double>(compute_cores)
                             : 1.0;
    return ranks > 1 ? share * busy_compute_factor : share;
  }
  int64_t maxRanks() const { return nodes * ranks_per_node; }
  // The first `ranks` ranks, filling nodes in order.
  comm::cost::Topology topology(int64_t ranks) const;

  template <class V>
  void visit(V& v) {
    v.field("name", name);
    v.field("source", source);
    v.field("nodes", nodes, core::check::between<int64_t>(1, int64_t{1} << 24));
    v.field("ranks_per_node", ranks_per_node, core::check::between<int64_t>(1, 4096));
    v.section("intra", intra);
    v.section("inter", inter);
    v.field("allreduce", allreduce);
    v.field("compute_cores", compute_cores, core::check::atLeast<int64_t>(0));
    v.field("busy_compute_factor", busy_compute_factor, core::check::atLeast(1.0));
  }
};

// The compressors' own work per gradient element, in nanoseconds (encode and
// decode on the reducer's thread; `autoglm simulate --profile` measures them).
struct CompressCompute {
  // The all-reduce's sums per element in each wire type (comm::reduceInto, which
  // MPI's user-defined half operations call): none sums float32, fp16/bf16 theirs.
  double sum_fp32 = 0.0;
  double sum_fp16 = 0.0;
  double sum_bf16 = 0.0;
  double fp16 = 0.0;
  double bf16 = 0.0;
  double onebit = 0.0;
  double topk = 0.0;

  double nanoseconds(parallel::data_parallel::compression::CompressionType type) const;
  double sumNanoseconds(parallel::data_parallel::compression::CompressionType type) const;
  template <class V>
  void visit(V& v) {
    v.field("sum_fp32", sum_fp32, core::check::atLeast(0.0));
    v.field("sum_fp16", sum_fp16, core::check::atLeast(0.0));
    v.field("sum_bf16", sum_bf16, core::check::atLeast(0.0));
    v.field("fp16", fp16, core::check::atLeast(0.0));
    v.field("bf16", bf16, core::check::atLeast(0.0));
    v.field("onebit", onebit, core::check::atLeast(0.0));
    v.field("topk", topk, core::check::atLeast(0.0));
  }
};

struct WorkloadConfig {
  std::string name;
  std::string source;
  // The dense parameter tensors, in registration order (backward produces the
  // last first). Either `tensor_numels`, or `parameters` split evenly into
  // `tensors` tensors.
  std::vector<int64_t> tensor_numels;
  int64_t parameters = 0;
  int64_t tensors = 1;
  int64_t samples_per_rank = 1;  // graphs, images or triples one rank's step processes
  double forward_ms = 0.0;
  double backward_ms = 0.0;
  double optimizer_ms = 0.0;
  double bucket_mb = 25.0;
  parallel::data_parallel::ReducerMode reducer_mode = parallel::data_parallel::ReducerMode::kOverlap;
  parallel::data_parallel::compression::CompressionConfig compression;
  CompressCompute compress_ns_per_element;
  double reducer_ns_per_element = 0.0;  // the reducer's passes per element (dp_step_model.h)
  // Pipeline parallel: `pipeline_stages` consecutive ranks hold a slice of the
  // model each (compute and parameters split evenly), `micro_batches` per step
  // run by `schedule`'s action tables, `activation_mb` crossing each stage
  // boundary per micro-batch; the data-parallel groups (ranks / stages) reduce
  // each stage's gradients after the pipeline drains.
  int64_t pipeline_stages = 1;
  int64_t micro_batches = 4;
  parallel::pipeline::ScheduleKind schedule = parallel::pipeline::ScheduleKind::k1F1B;
  double activation_mb = 0.0;
  // Tensor parallel: `tp` consecutive ranks share each replica (tp_step_model.h),
  // their collectives sized by `tp_shape`; not combined with pipeline_stages.
  int64_t tp = 1;
  TpShape tp_shape;
  // Memory: one rank's peak resident MB alone at its batch (0 = not known;
  // --profile measures it) and the bytes each parameter's state takes (fp32
  // value and gradient, two Adam moments: 16). A rank holding 1 / (tp x
  // stages) of the model sheds that share of the state; with data-parallel
  // peers the reducer adds its buckets (4 bytes per element it holds).
  double memory_mb = 0.0;
  double state_bytes_per_parameter = 16.0;

  // The memory per rank of this layout (0 when memory_mb is not known).
  double memoryPerRankMb(int64_t dp, int64_t shards) const;

  std::vector<int64_t> numels() const;
  ComputeTimes compute() const { return {forward_ms * 1e-3, backward_ms * 1e-3, optimizer_ms * 1e-3}; }

  template <class V>
  void visit(V& v) {
    v.field("name", name);
    v.field("source", source);
    v.field("tensor_numels", tensor_numels);
    v.field("parameters", parameters, core::check::atLeast<int64_t>(0));
    v.field("tensors", tensors, core::check::atLeast<int64_t>(1));
    v.field("samples_per_rank", samples_per_rank, core::check::atLeast<int64_t>(1));
    v.field("forward_ms", forward_ms, core::check::atLeast(0.0));
    v.field("backward_ms", backward_ms, core::check::atLeast(0.0));
    v.field("optimizer_ms", optimizer_ms, core::check::atLeast(0.0));
    v.field("bucket_mb", bucket_mb, core::check::greaterThan(0.0));
    v.field("reducer_mode", reducer_mode);
    v.section("compression", compression);
    v.section("compress_ns_per_element", compress_ns_per_element);
    v.field("reducer_ns_per_element", reducer_ns_per_element, core::check::atLeast(0.0));
    v.field("pipeline_stages", pipeline_stages, core::check::between<int64_t>(1, 4096));
    v.field("micro_batches", micro_batches, core::check::atLeast<int64_t>(1));
    v.field("schedule", schedule);
    v.field("activation_mb", activation_mb, core::check::atLeast(0.0));
    v.field("tp", tp, core::check::between<int64_t>(1, 4096));
    v.field("memory_mb", memory_mb, core::check::atLeast(0.0));
    v.field("state_bytes_per_parameter", state_bytes_per_parameter, core::check::atLeast(0.0));
    v.section("tp_shape", tp_shape);
  }
};

// Read `cluster:` / `workload:` from a file, with "a.b=value" overrides
// (cluster.nodes=64, workload.compression.type=onebit) applied first.
ClusterConfig loadCluster(const std::string& path, const std::vector<std::string>& overrides = {});
WorkloadConfig loadWorkload(const std::string& path, const std::vector<std::string>& overrides = {});

}  // namespace autoglm::trainer::simulate
