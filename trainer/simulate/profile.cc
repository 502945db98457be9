#include "trainer/simulate/profile.h"

#include <ATen/Functions.h>
#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <ostream>

#include "comm/reduce_kernels.h"
#include "comm/self_communicator.h"
#include "core/error.h"
#include "core/finite.h"
#include "parallel/data_parallel/compression/compressor.h"
#include "trainer/tasks/graph_classification/classifier_trainer.h"

namespace autoglm::trainer::simulate {

namespace compression = parallel::data_parallel::compression;
using compression::CompressionType;

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double peakRssMb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // Linux: KiB
}

}  // namespace

CompressCompute measureCompressors(int64_t numel, int64_t repeats, const ExperimentConfig& cfg) {
  comm::SelfCommunicator self("profile");
  auto time_one = [&](CompressionType type) {
    compression::CompressionConfig c = cfg.parallel.compression;
    c.type = type;
    c.warmup_steps = 0;
    const auto compressor = compression::makeCompressor(c);
    at::Tensor base = at::randn({numel}, at::TensorOptions().dtype(at::kFloat));
    std::vector<double> ns;
    for (int64_t r = 0; r <= repeats; ++r) {  // the first call allocates the state: not counted
      at::Tensor bucket = base.clone();
      const auto t0 = std::chrono::steady_clock::now();
      compressor->reduce(0, bucket, r, self);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (r > 0) ns.push_back(s * 1e9 / static_cast<double>(numel));
    }
    return median(ns);
  };
  auto time_sum = [&](at::ScalarType dtype) {
    at::Tensor a = at::randn({numel}, at::TensorOptions().dtype(at::kFloat)).to(dtype);
    at::Tensor b = a.clone();
    std::vector<double> ns;
    for (int64_t r = 0; r <= repeats; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      comm::reduceInto(a.data_ptr(), b.data_ptr(), numel, dtype, comm::ReduceOp::kSum);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (r > 0) ns.push_back(s * 1e9 / static_cast<double>(numel));
      a.copy_(b);
    }
    return median(ns);
  };
  CompressCompute out;
  out.sum_fp32 = time_sum(at::kFloat);
  out.sum_fp16 = time_sum(at::kHalf);
  out.sum_bf16 = time_sum(at::kBFloat16);
  out.fp16 = time_one(CompressionType::kFp16);
  out.bf16 = time_one(CompressionType::kBf16);
  out.onebit = time_one(CompressionType::kOnebit);
  out.topk = time_one(CompressionType::kTopk);
  return out;
}

double measureReducerPasses(int64_t numel, int64_t repeats) {
  at::Tensor grad = at::randn({numel}, at::TensorOptions().dtype(at::kFloat));
  at::Tensor flat = at::empty_like(grad);
  std::vector<double> ns;
  bool finite = true;
  for (int64_t r = 0; r <= repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    flat.copy_(grad);                     // the gradient hook's copy into the bucket
    finite = core::allFinite(flat) && finite;  // finishStep's check
    flat.div_(2.0);                       // the average's division
    grad.copy_(flat);                     // back into the parameter's gradient
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0) ns.push_back(s * 1e9 / static_cast<double>(numel));
  }
  if (!finite) throw Error("simulate --profile: random gradients were not finite");
  return median(ns);
}

ProfileResult profileExperiment(const ExperimentConfig& given, const ProfileOptions& opts, std::ostream& log) {
  if (given.model.kind != core::model::ModelKind::kGat) {
    throw ConfigError(fmt::format("simulate --profile: model.kind={}: only gat (graph classification) is profiled",
                                  core::enumName(given.model.kind)));
  }
  if (opts.steps < 1 || opts.warmup_steps < 0) throw ConfigError("simulate --profile: --steps must be >= 1");
  ExperimentConfig cfg = given;
  cfg.parallel.dp = cfg.parallel.tp = cfg.parallel.pp = 1;
  cfg.train.progress = ProgressMode::kOff;
  const core::graph::PreparedData data = prepareData(cfg);
  ClassifierTrainer trainer(cfg, data);

  ProfileResult out;
  WorkloadConfig& w = out.workload;
  for (const auto& p : trainer.model()->parameters()) w.tensor_numels.push_back(p.numel());
  if (cfg.train.embedding_update != EmbeddingUpdate::kDense && !w.tensor_numels.empty()) {
    out.row_sparse_parameters = w.tensor_numels.front();
  }
  std::vector<int64_t> global;
  const std::vector<std::vector<int64_t>> batches = trainer.epochBatches(0, &global);
  if (batches.empty()) throw ConfigError("simulate --profile: the training split has no batches");
  std::vector<double> fwd, bwd, opt, total;
  for (int64_t s = 0; s < opts.warmup_steps + opts.steps; ++s) {
    const size_t b = static_cast<size_t>(s) % batches.size();
    const PhaseTimes before = trainer.steps().phaseTimes();
    const auto t0 = std::chrono::steady_clock::now();
    trainer.trainStep({batches[b]}, global[b]);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const PhaseTimes after = trainer.steps().phaseTimes();
    if (s < opts.warmup_steps) continue;
    fwd.push_back(after.collate - before.collate + after.forward - before.forward);
    bwd.push_back(after.backward - before.backward);
    opt.push_back(after.optimizer - before.optimizer + after.sync - before.sync);
    total.push_back(wall);
    log << fmt::format("  step {}: {:.1f} ms\n", s - opts.warmup_steps + 1, wall * 1e3);
  }
  // The parts' medians, scaled so that they add up to the median step.
  const double parts = median(fwd) + median(bwd) + median(opt);
  const double scale = parts > 0 ? median(total) / parts : 1.0;
  w.forward_ms = median(fwd) * scale * 1e3;
  w.backward_ms = median(bwd) * scale * 1e3;
  w.optimizer_ms = median(opt) * scale * 1e3;
  out.step_ms_median = median(total) * 1e3;
  out.step_ms_min = *std::min_element(total.begin(), total.end()) * 1e3;
  out.step_ms_max = *std::max_element(total.begin(), total.end()) * 1e3;
  out.peak_rss_mb = peakRssMb();
  w.memory_mb = out.peak_rss_mb;
  // What sizes tensor parallelism's collectives (tp_step_model.h).
  double nodes = 0.0;
  for (const auto& batch : batches) {
    for (int64_t g : batch) nodes += static_cast<double>(data.store.graph(g).num_nodes);
  }
  const core::model::ModelConfig& m = cfg.model;
  w.tp_shape.nodes_per_step = nodes / static_cast<double>(batches.size());
  w.tp_shape.embed_dim = m.embed_dim;
  w.tp_shape.block_width = m.heads * m.head_dim;
  w.tp_shape.layers = m.layers;
  w.tp_shape.readout_width = (m.readout == core::model::ReadoutKind::kMeanMax ? 2 : 1) * w.tp_shape.block_width;
  w.tp_shape.classes = static_cast<int64_t>(data.label_names.size());
  w.samples_per_rank = cfg.train.batch_graphs;
  w.bucket_mb = cfg.parallel.bucket_mb;
  w.reducer_mode = cfg.parallel.reducer_mode;
  w.compression = cfg.parallel.compression;
  int64_t numel = 0;
  for (int64_t n : w.tensor_numels) numel += n;
  w.compress_ns_per_element = measureCompressors(numel, opts.compress_repeats, cfg);
  w.reducer_ns_per_element = measureReducerPasses(numel, opts.compress_repeats);
  return out;
}

void writeWorkloadYaml(const WorkloadConfig& w, const std::vector<std::string>& comment, std::ostream& out) {
  for (const std::string& line : comment) out << "# " << line << "\n";
  out << "workload:\n";
  out << "  name: " << w.name << "\n";
  out << "  source: \"" << w.source << "\"\n";
  out << "  tensor_numels: [";
  for (size_t i = 0; i < w.tensor_numels.size(); ++i) out << (i ? ", " : "") << w.tensor_numels[i];
  out << "]\n";
  out << fmt::format("  samples_per_rank: {}\n  forward_ms: {:.3f}\n  backward_ms: {:.3f}\n  optimizer_ms: {:.3f}\n",
                     w.samples_per_rank, w.forward_ms, w.backward_ms, w.optimizer_ms);
  out << fmt::format("  bucket_mb: {}\n  reducer_mode: {}\n", w.bucket_mb, core::enumName(w.reducer_mode));
  out << fmt::format("  compression:\n    type: {}\n    ratio: {}\n    chunk_elems: {}\n    skip_zero_chunks: {}\n",
                     core::enumName(w.compression.type), w.compression.ratio, w.compression.chunk_elems,
                     w.compression.skip_zero_chunks);
  const CompressCompute& c = w.compress_ns_per_element;
  out << fmt::format("  compress_ns_per_element: {{sum_fp32: {:.3f}, sum_fp16: {:.3f}, sum_bf16: {:.3f}, fp16: {:.3f}, "
                     "bf16: {:.3f}, onebit: {:.3f}, topk: {:.3f}}}\n",
                     c.sum_fp32, c.sum_fp16, c.sum_bf16, c.fp16, c.bf16, c.onebit, c.topk);
  out << fmt::format("  reducer_ns_per_element: {:.3f}\n", w.reducer_ns_per_element);
  out << fmt::format("  memory_mb: {:.1f}\n  state_bytes_per_parameter: {}\n", w.memory_mb, w.state_bytes_per_parameter);
  const TpShape& t = w.tp_shape;
  out << fmt::format("  tp: {}\n  tp_shape: {{nodes_per_step: {:.1f}, embed_dim: {}, block_width: {}, layers: {}, "
                     "readout_width: {}, classes: {}}}\n",
                     w.tp, t.nodes_per_step, t.embed_dim, t.block_width, t.layers, t.readout_width, t.classes);
}

}  // namespace autoglm::trainer::simulate
