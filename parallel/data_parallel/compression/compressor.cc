#include "parallel/data_parallel/compression/compressor.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include <cstdlib>

#include "core/error.h"
#include "parallel/data_parallel/compression/onebit.h"
#include "parallel/data_parallel/compression/topk.h"

namespace autoglm::parallel::data_parallel::compression {

using detail::concat;

void checkBucket(const at::Tensor& bucket, const std::string& compressor, int bucket_id) {
  if (!bucket.defined() || bucket.dim() != 1 || bucket.scalar_type() != at::kFloat || !bucket.is_cpu() ||
      !bucket.is_contiguous()) {
    throw Error(concat(compressor, " compressor: bucket ", bucket_id,
                       " must be a contiguous 1-D float32 CPU tensor, got ",
                       bucket.defined() ? concat(bucket.scalar_type(), " of shape ", bucket.sizes(),
                                                 bucket.is_contiguous() ? "" : " (not contiguous)", " on ",
                                                 bucket.device())
                                        : std::string("an undefined tensor")));
  }
}

std::string stateKey(const std::string& prefix, int bucket_id) { return concat(prefix, ".", bucket_id); }

std::pair<std::string, int> parseStateKey(const std::string& key, const std::vector<std::string>& prefixes,
                                          const std::string& compressor) {
  const auto dot = key.rfind('.');
  std::string names;
  for (const auto& p : prefixes) names += (names.empty() ? "" : ", ") + p + ".<bucket>";
  const auto bad = [&](const std::string& why) {
    return CheckpointError(concat(compressor, " compressor state entry '", key, "': ", why, " (expected ", names,
                                  ")"));
  };
  if (dot == std::string::npos || dot + 1 == key.size()) throw bad("no bucket number");
  const std::string prefix = key.substr(0, dot);
  const std::string digits = key.substr(dot + 1);
  if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) {
    throw bad("bad bucket number '" + digits + "'");
  }
  bool known = false;
  for (const auto& p : prefixes) known = known || p == prefix;
  if (!known) throw bad("unknown entry '" + prefix + "'");
  return {prefix, std::atoi(digits.c_str())};
}

void checkStateTensor(const std::string& key, const at::Tensor& t, int64_t numel, const std::string& compressor) {
  if (!t.defined() || t.dim() != 1 || t.scalar_type() != at::kFloat || !t.is_cpu()) {
    throw CheckpointError(concat(compressor, " compressor state entry '", key,
                                 "' must be a 1-D float32 CPU tensor, got ",
                                 t.defined() ? concat(t.scalar_type(), " of shape ", t.sizes())
                                             : std::string("an undefined tensor")));
  }
  if (numel >= 0 && t.numel() != numel) {
    throw CheckpointError(concat(compressor, " compressor state entry '", key, "' has ", t.numel(),
                                 " elements but this compressor holds ", numel, " for that bucket"));
  }
}

void loadStateEntry(const std::string& key, const at::Tensor& t, const at::Tensor& current, at::Tensor& slot,
                    const std::string& compressor) {
  checkStateTensor(key, t, current.defined() ? current.numel() : -1, compressor);
  if (slot.defined()) throw CheckpointError(concat(compressor, " compressor state entry '", key, "' appears twice"));
  slot = t.contiguous().clone();
}

void averageDense(at::Tensor& bucket, comm::Communicator& comm, CompressorStats& stats) {
  comm::AllreduceOptions opts;
  opts.op = comm::ReduceOp::kAvg;
  comm.allreduce(bucket, opts)->wait();
  stats.bytes_sent += static_cast<int64_t>(bucket.nbytes());
}

bool beginCompressed(const std::string& compressor, int bucket_id, at::Tensor& bucket, int64_t step,
                     int64_t warmup_steps, int64_t state_numel, comm::Communicator& comm, CompressorStats& stats) {
  checkBucket(bucket, compressor, bucket_id);
  const int64_t n = bucket.numel();
  ++stats.calls;
  stats.elements += n;
  if (state_numel >= 0 && state_numel != n) {
    throw Error(detail::concat(compressor, " compressor: bucket ", bucket_id, " has ", n,
                               " elements but its residual (", stateKey("residual", bucket_id), ") has ",
                               state_numel, "; buckets must keep their size from step to step"));
  }
  if (step < warmup_steps) {
    averageDense(bucket, comm, stats);
    return false;
  }
  stats.compressed_elements += n;
  return n > 0;  // every rank has the same buckets: an empty one communicates nowhere
}

namespace {

// Exact average in float32.
class NoneCompressor final : public Compressor {
 public:
  std::string name() const override { return "none"; }

  void reduce(int bucket_id, at::Tensor& bucket, int64_t step, comm::Communicator& comm) override {
    (void)step;
    checkBucket(bucket, "none", bucket_id);
    ++stats_.calls;
    stats_.elements += bucket.numel();
    averageDense(bucket, comm, stats_);
  }
};

// float16 / bfloat16 all-reduce of the bucket pre-divided by the group size (as
// PyTorch DDP's fp16_compress_hook does, so that the sum cannot overflow).
class HalfCompressor final : public Compressor {
 public:
  HalfCompressor(std::string name, at::ScalarType dtype) : name_(std::move(name)), dtype_(dtype) {}
  at::ScalarType rowWire() const override { return dtype_; }

  std::string name() const override { return name_; }

  void reduce(int bucket_id, at::Tensor& bucket, int64_t step, comm::Communicator& comm) override {
    (void)step;
    checkBucket(bucket, name_, bucket_id);
    ++stats_.calls;
    stats_.elements += bucket.numel();
    stats_.compressed_elements += bucket.numel();
    at::Tensor half = bucket.div(static_cast<double>(comm.size())).to(dtype_);
    comm::AllreduceOptions opts;
    opts.op = comm::ReduceOp::kSum;
    comm.allreduce(half, opts)->wait();
    stats_.bytes_sent += static_cast<int64_t>(half.nbytes());
    bucket.copy_(half);
  }

 private:
  std::string name_;
  at::ScalarType dtype_;
};

}  // namespace

void checkShapeAgainstType(const CompressionConfig& cfg) {
  if (cfg.shape != ShapeKind::kUniform && cfg.type != CompressionType::kOnebit) {
    throw ConfigError(concat("parallel.compression.shape=", core::enumName(cfg.shape),
                             ": only parallel.compression.type=onebit uses a shape (type is ",
                             core::enumName(cfg.type), ")"));
  }
}

std::unique_ptr<Compressor> makeCompressor(const CompressionConfig& cfg) {
  core::checkConfig(cfg, "parallel.compression");
  checkShapeAgainstType(cfg);
  switch (cfg.type) {
    case CompressionType::kNone: return std::make_unique<NoneCompressor>();
    case CompressionType::kFp16: return std::make_unique<HalfCompressor>("fp16", at::kHalf);
    case CompressionType::kBf16: return std::make_unique<HalfCompressor>("bf16", at::kBFloat16);
    case CompressionType::kOnebit: return std::make_unique<OnebitCompressor>(cfg);
    case CompressionType::kTopk: return std::make_unique<TopkCompressor>(cfg);
  }
  throw ConfigError(concat("parallel.compression.type: unknown compressor ", static_cast<int>(cfg.type)));
}

}  // namespace autoglm::parallel::data_parallel::compression
