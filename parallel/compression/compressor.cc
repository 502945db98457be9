#include "parallel/compression/compressor.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include <cstdlib>

#include "core/error.h"
#include "parallel/compression/onebit.h"
#include "parallel/compression/topk.h"

namespace autoglm::parallel {

using detail::concat;

namespace compression {

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

}  // namespace compression

namespace {

// Exact average in float32.
class NoneCompressor final : public Compressor {
 public:
  std::string name() const override { return "none"; }

  void reduce(int bucket_id, at::Tensor& bucket, int64_t step, comm::Communicator& comm) override {
    (void)step;
    compression::checkBucket(bucket, "none", bucket_id);
    ++stats_.calls;
    stats_.elements += bucket.numel();
    compression::averageDense(bucket, comm, stats_);
  }
};

// float16 / bfloat16 all-reduce of the bucket pre-divided by the group size (as
// PyTorch DDP's fp16_compress_hook does, so that the sum cannot overflow).
class HalfCompressor final : public Compressor {
 public:
  HalfCompressor(std::string name, at::ScalarType dtype) : name_(std::move(name)), dtype_(dtype) {}

  std::string name() const override { return name_; }

  void reduce(int bucket_id, at::Tensor& bucket, int64_t step, comm::Communicator& comm) override {
    (void)step;
    compression::checkBucket(bucket, name_, bucket_id);
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

std::unique_ptr<Compressor> makeCompressor(const CompressionConfig& cfg) {
  const auto fail = [](const std::string& key, const std::string& msg) {
    return ConfigError(concat("parallel.compression.", key, ": ", msg));
  };
  if (cfg.warmup_steps < 0) throw fail("warmup_steps", concat(cfg.warmup_steps, " must be >= 0"));
  if (cfg.type == "none") return std::make_unique<NoneCompressor>();
  if (cfg.type == "fp16") return std::make_unique<HalfCompressor>("fp16", at::kHalf);
  if (cfg.type == "bf16") return std::make_unique<HalfCompressor>("bf16", at::kBFloat16);
  if (cfg.type == "onebit") {
    if (cfg.chunk_elems < 8 || cfg.chunk_elems % 8 != 0) {
      throw fail("chunk_elems", concat(cfg.chunk_elems, " must be a positive multiple of 8 for onebit"));
    }
    return std::make_unique<OnebitCompressor>(cfg);
  }
  if (cfg.type == "topk") {
    if (!(cfg.ratio > 0.0 && cfg.ratio <= 1.0)) throw fail("ratio", concat(cfg.ratio, " must be in (0, 1]"));
    if (!(cfg.momentum >= 0.0 && cfg.momentum < 1.0)) {
      throw fail("momentum", concat(cfg.momentum, " must be in [0, 1)"));
    }
    if (cfg.sample_elems < 64) throw fail("sample_elems", concat(cfg.sample_elems, " must be >= 64"));
    return std::make_unique<TopkCompressor>(cfg);
  }
  throw fail("type", concat("unknown compressor '", cfg.type, "' (expected none, fp16, bf16, onebit or topk)"));
}

}  // namespace autoglm::parallel
