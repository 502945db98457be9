#pragma once
// Top-k sparsification with error feedback and momentum correction (Deep
// Gradient Compression, Lin et al. 2018).
//
// reduce() after warm-up, per bucket (u: momentum, v: accumulated residual):
//   u = momentum * u + g          (u = g when momentum is 0)
//   v = v + u
//   I = indices of the about k = ceil(ratio * n) largest |v| (selectLargest)
//   send (I as int32, v[I] as float32) by all-gather-v; every rank sums all
//   contributions into a zero bucket in rank order, then divides by the ranks
//   v[I] = 0, u[I] = 0            (momentum factor masking)
// With ratio 1 the whole of v is averaged by all-reduce, exactly as `none`.
// Invariant per step: values sent + v after == v before + u.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>

#include "parallel/data_parallel/compression/compressor.h"

namespace autoglm::parallel::data_parallel::compression {

namespace topk {

// k = ceil(ratio * n), at least 1 (for n > 0) and at most n.
int64_t targetCount(int64_t n, double ratio);

// Seed of the threshold sample of one (rank, bucket, step).
uint64_t sampleSeed(int rank, int bucket_id, int64_t step);

// Indices (int64) of at most k elements of `v` (contiguous float32 1-D) of
// largest |v|, for 0 < k <= n:
//   - k == n: all of them;
//   - n <= sample_elems or k > n / 4: exactly the top k (at::topk);
//   - otherwise a threshold from `sample_elems` elements drawn with `seed` (the
//     sample's quantile for 1.25 * k / n, a little low so that usually at least k
//     pass), the elements with |v| >= threshold (> 0 if the threshold is 0), and
//     of those the exact top k when more than k pass. When fewer than k / 2 pass
//     (an unlucky sample) it falls back to at::topk. With a zero threshold only
//     the nonzero elements are taken, possibly fewer than k.
// Deterministic for equal inputs; the order of the indices is unspecified.
at::Tensor selectLargest(const at::Tensor& v, int64_t k, int64_t sample_elems, uint64_t seed);

}  // namespace topk

class TopkCompressor final : public Compressor {
 public:
  // Throws ConfigError for settings outside CompressionConfig's bounds.
  explicit TopkCompressor(const CompressionConfig& cfg);

  std::string name() const override { return "topk"; }
  void reduce(int bucket_id, at::Tensor& bucket, int64_t step, comm::Communicator& comm) override;
  // "residual.<bucket>" (v) and, with momentum > 0, "momentum.<bucket>" (u).
  CompressorState state() const override;
  void loadState(const CompressorState& state) override;

 private:
  struct Buffers {
    at::Tensor residual;  // v
    at::Tensor momentum;  // u; undefined when momentum is 0
  };

  int64_t warmup_steps_;
  double ratio_;
  double momentum_;
  int64_t sample_elems_;
  std::map<int, Buffers> buffers_;
};

}  // namespace autoglm::parallel::data_parallel::compression
