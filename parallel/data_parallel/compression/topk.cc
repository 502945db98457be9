#include "parallel/data_parallel/compression/topk.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

#include "core/error.h"
#include "core/splitmix.h"

namespace autoglm::parallel::data_parallel::compression {

using core::splitmix64;
using detail::concat;

namespace {


at::Tensor exactTopk(const at::Tensor& a, int64_t k) {
  return std::get<1>(at::topk(a, k, /*dim=*/0, /*largest=*/true, /*sorted=*/false));
}

}  // namespace

namespace topk {

int64_t targetCount(int64_t n, double ratio) {
  if (n <= 0) return 0;
  const auto k = static_cast<int64_t>(std::ceil(ratio * static_cast<double>(n)));
  return std::clamp<int64_t>(k, 1, n);
}

uint64_t sampleSeed(int rank, int bucket_id, int64_t step) {
  uint64_t h = splitmix64(static_cast<uint64_t>(static_cast<uint32_t>(rank)));
  h = splitmix64(h ^ static_cast<uint64_t>(static_cast<uint32_t>(bucket_id)));
  return splitmix64(h ^ static_cast<uint64_t>(step));
}

at::Tensor selectLargest(const at::Tensor& v, int64_t k, int64_t sample_elems, uint64_t seed) {
  AUTOGLM_CHECK(v.defined() && v.dim() == 1 && v.scalar_type() == at::kFloat && v.is_contiguous(),
                "topk::selectLargest: expected a contiguous 1-D float32 tensor");
  const int64_t n = v.numel();
  AUTOGLM_CHECK(k > 0 && k <= n, "topk::selectLargest: k = ", k, " for ", n, " elements");
  const auto index_opts = v.options().dtype(at::kLong);
  if (k == n) return at::arange(n, index_opts);
  const at::Tensor a = v.abs();
  if (n <= sample_elems || k > n / 4) return exactTopk(a, k);

  // Threshold: the sample's quantile for 1.25 k / n (from the top).
  at::Tensor positions = at::empty({sample_elems}, index_opts);
  int64_t* pos = positions.data_ptr<int64_t>();
  for (int64_t i = 0; i < sample_elems; ++i) {
    pos[i] = static_cast<int64_t>(splitmix64(seed + static_cast<uint64_t>(i)) % static_cast<uint64_t>(n));
  }
  const at::Tensor sample = a.index_select(0, positions);
  const double want = 1.25 * static_cast<double>(k) / static_cast<double>(n) * static_cast<double>(sample_elems);
  const int64_t from_top = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(want)), 1, sample_elems);
  const float thr = std::get<0>(at::kthvalue(sample, sample_elems - from_top + 1)).item<float>();

  at::Tensor selected = (thr > 0.0f ? a.ge(thr) : a.gt(0.0)).nonzero().view({-1});
  const int64_t count = selected.numel();
  if (count > k) return selected.index_select(0, exactTopk(a.index_select(0, selected), k));
  if (thr > 0.0f && 2 * count < k) return exactTopk(a, k);
  return selected;
}

}  // namespace topk

TopkCompressor::TopkCompressor(const CompressionConfig& cfg)
    : warmup_steps_(cfg.warmup_steps),
      ratio_(cfg.ratio),
      momentum_(cfg.momentum),
      sample_elems_(cfg.sample_elems) {
  core::checkConfig(cfg, "parallel.compression");
}

void TopkCompressor::reduce(int bucket_id, at::Tensor& bucket, int64_t step, comm::Communicator& comm) {
  const int64_t n = bucket.numel();
  auto found = buffers_.find(bucket_id);
  const int64_t state_numel = found != buffers_.end() ? found->second.residual.numel() : -1;
  if (!beginCompressed("topk", bucket_id, bucket, step, warmup_steps_, state_numel, comm, stats_)) {
    return;
  }
  if (n > std::numeric_limits<int32_t>::max()) {
    throw Error(concat("topk compressor: bucket ", bucket_id, " has ", n,
                       " elements; indices travel as int32, so buckets must stay below 2^31"));
  }

  Buffers& buf = buffers_[bucket_id];
  if (!buf.residual.defined()) buf.residual = at::zeros({n}, bucket.options());
  if (momentum_ > 0.0) {
    if (!buf.momentum.defined()) buf.momentum = at::zeros({n}, bucket.options());
    buf.momentum.mul_(momentum_).add_(bucket);
    buf.residual.add_(buf.momentum);
  } else {
    buf.residual.add_(bucket);
  }

  if (ratio_ >= 1.0) {  // everything is sent: the plain average, exactly as `none`
    bucket.copy_(buf.residual);
    averageDense(bucket, comm, stats_);
    stats_.selected_elements += n;
    buf.residual.zero_();
    if (buf.momentum.defined()) buf.momentum.zero_();
    return;
  }

  const int64_t k = topk::targetCount(n, ratio_);
  const at::Tensor idx =
      topk::selectLargest(buf.residual, k, sample_elems_, topk::sampleSeed(comm.rank(), bucket_id, step));
  const int64_t count = idx.numel();
  // One int32 tensor: the indices, then the float32 values' bits.
  at::Tensor payload = at::empty({2 * count}, bucket.options().dtype(at::kInt));
  payload.narrow(0, 0, count).copy_(idx);
  at::Tensor values = payload.narrow(0, count, count).view(at::kFloat);
  at::index_select_out(values, buf.residual, 0, idx);
  auto work = comm.allgatherv(payload, {});
  stats_.bytes_sent += static_cast<int64_t>(payload.nbytes());
  stats_.selected_elements += count;
  buf.residual.index_fill_(0, idx, 0.0);
  if (buf.momentum.defined()) buf.momentum.index_fill_(0, idx, 0.0);
  work->wait();

  at::Tensor sum = at::zeros({n}, bucket.options());
  const auto& parts = work->result();
  for (size_t r = 0; r < parts.size(); ++r) {
    const at::Tensor& part = parts[r];
    if (part.dim() != 1 || part.numel() % 2 != 0) {
      throw Error(concat("topk compressor: bucket ", bucket_id, ": rank ", r, " sent ", part.numel(),
                         " int32 words, not index/value pairs"));
    }
    const int64_t m = part.numel() / 2;
    sum.index_add_(0, part.narrow(0, 0, m), part.narrow(0, m, m).view(at::kFloat));
  }
  if (parts.size() > 1) sum.div_(static_cast<double>(parts.size()));
  bucket.copy_(sum);
}

CompressorState TopkCompressor::state() const {
  CompressorState out;
  for (const auto& [id, buf] : buffers_) {
    out.emplace_back(stateKey("residual", id), buf.residual.clone());
    if (buf.momentum.defined()) out.emplace_back(stateKey("momentum", id), buf.momentum.clone());
  }
  return out;
}

void TopkCompressor::loadState(const CompressorState& state) {
  const auto accept = [this](const std::string& key, const std::string& prefix) {
    if (prefix == "momentum" && momentum_ == 0.0) {
      throw CheckpointError(concat("topk compressor state entry '", key,
                                   "': saved with momentum correction, but parallel.compression.momentum is 0"));
    }
  };
  std::map<int, Buffers> loaded = loadBucketState<Buffers>(
      state, buffers_, {{"residual", &Buffers::residual}, {"momentum", &Buffers::momentum}}, "topk", accept);
  for (const auto& [id, buf] : loaded) {
    const std::string key = stateKey("momentum", id);
    if (!buf.residual.defined()) {
      throw CheckpointError(concat("topk compressor state entry '", key, "' without '",
                                   stateKey("residual", id), "'"));
    }
    if (buf.momentum.defined() && buf.momentum.numel() != buf.residual.numel()) {
      throw CheckpointError(concat("topk compressor state entry '", key, "' has ", buf.momentum.numel(),
                                   " elements but '", stateKey("residual", id), "' has ",
                                   buf.residual.numel()));
    }
  }
  buffers_ = std::move(loaded);
  stats_ = {};
}

}  // namespace autoglm::parallel::data_parallel::compression
