#include "parallel/data_parallel/compression/onebit.h"

#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"

namespace autoglm::parallel::data_parallel::compression {

using detail::concat;

namespace {

constexpr int64_t kGrainBytes = 16384;  // sign bytes per parallel_for task

void checkFloat(const at::Tensor& x, const char* what) {
  AUTOGLM_CHECK(x.defined() && x.scalar_type() == at::kFloat && x.is_contiguous() && x.is_cpu(), what,
                ": expected a contiguous float32 CPU tensor");
}

// Sign bits of x[0, n) (n a multiple of 8) into dst[0, n / 8).
void packSignsInto(const float* x, int64_t n, uint8_t* dst) {
  at::parallel_for(0, n / 8, kGrainBytes, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const float* p = x + 8 * b;
      uint8_t v = 0;
      for (int k = 0; k < 8; ++k) v |= static_cast<uint8_t>(p[k] >= 0.0f) << k;
      dst[b] = v;
    }
  });
}

// Sum of |x[lo, hi)| in a fixed order: eight float lanes (vectorisable), then
// the lanes in double.
double absSum(const float* x, int64_t lo, int64_t hi) {
  float lane[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
  int64_t i = lo;
  for (; i + 8 <= hi; i += 8) {
    for (int k = 0; k < 8; ++k) lane[k] += std::fabs(x[i + k]);
  }
  double sum = 0.0;
  for (; i < hi; ++i) sum += std::fabs(x[i]);
  for (int k = 0; k < 8; ++k) sum += lane[k];
  return sum;
}

// Scales of x[0, n) into dst[0, ceil(n / chunk)), over each chunk's elements
// < valid: mean |x|, or with magnitudes d[0, n) (null for none) the
// least-squares fit sum |x| d / sum d^2.
void chunkScalesInto(const float* x, const float* d, int64_t n, int64_t chunk, int64_t valid, float* dst) {
  const int64_t chunks = (n + chunk - 1) / chunk;
  const int64_t grain = std::max<int64_t>(1, 65536 / chunk);
  at::parallel_for(0, chunks, grain, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t lo = c * chunk;
      const int64_t hi = std::min({lo + chunk, n, valid});
      if (d == nullptr) {
        dst[c] = hi > lo ? static_cast<float>(absSum(x, lo, hi) / static_cast<double>(hi - lo)) : 0.0f;
        continue;
      }
      double num = 0.0, den = 0.0;
      for (int64_t i = lo; i < hi; ++i) {
        num += static_cast<double>(std::fabs(x[i])) * d[i];
        den += static_cast<double>(d[i]) * d[i];
      }
      dst[c] = den > 0.0 ? static_cast<float>(num / den) : 0.0f;
    }
  });
}

// out[0, 8 * nbytes) from sign bytes and scales (chunk a multiple of 8, so the
// eight elements of a byte share one scale); zero from `valid` on.
void unpackSignsInto(const uint8_t* bits, int64_t nbytes, const float* scales, int64_t chunk, int64_t valid,
                     float* out) {
  const int64_t full = std::clamp<int64_t>(valid / 8, 0, nbytes);  // bytes of only real elements
  at::parallel_for(0, full, kGrainBytes, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const float s = scales[8 * b / chunk];
      const float value[2] = {-s, s};
      const uint8_t v = bits[b];
      float* o = out + 8 * b;
      for (int k = 0; k < 8; ++k) o[k] = value[(v >> k) & 1];
    }
  });
  for (int64_t i = 8 * full; i < 8 * nbytes; ++i) {
    const float s = scales[i / chunk];
    out[i] = i < valid ? (((bits[i / 8] >> (i % 8)) & 1) ? s : -s) : 0.0f;
  }
}

// Slice p of `len` elements of t; undefined when t is.
at::Tensor sliceOrNone(const at::Tensor& t, int p, int64_t len) {
  return t.defined() ? t.narrow(0, p * len, len) : at::Tensor();
}

}  // namespace

int64_t OnebitLayout::valid(int index) const {
  return std::clamp<int64_t>(numel - static_cast<int64_t>(index) * part, 0, part);
}

OnebitLayout onebitLayout(int64_t numel, int ranks, int64_t chunk) {
  AUTOGLM_CHECK(numel >= 0 && ranks >= 1 && chunk >= 8 && chunk % 8 == 0, "bad onebit layout: ", numel,
                " elements over ", ranks, " ranks in chunks of ", chunk);
  OnebitLayout l;
  l.numel = numel;
  l.ranks = ranks;
  l.chunk = chunk;
  const int64_t per_rank = (numel + ranks - 1) / ranks;
  const int64_t unit = per_rank >= chunk ? chunk : 8;  // whole chunks keep chunk boundaries at bucket offsets
  l.part = (per_rank + unit - 1) / unit * unit;
  l.chunks = (l.part + chunk - 1) / chunk;
  return l;
}

namespace onebit {

at::Tensor packSigns(const at::Tensor& x) {
  checkFloat(x, "onebit::packSigns");
  AUTOGLM_CHECK(x.numel() % 8 == 0, "onebit::packSigns: ", x.numel(), " elements is not a multiple of 8");
  at::Tensor bits = at::empty({x.numel() / 8}, x.options().dtype(at::kByte));
  packSignsInto(x.data_ptr<float>(), x.numel(), bits.data_ptr<uint8_t>());
  return bits;
}

at::Tensor chunkScales(const at::Tensor& x, int64_t chunk, int64_t valid, const at::Tensor& shape) {
  checkFloat(x, "onebit::chunkScales");
  AUTOGLM_CHECK(chunk > 0, "onebit::chunkScales: chunk ", chunk);
  at::Tensor scales = at::empty({(x.numel() + chunk - 1) / chunk}, x.options());
  if (shape.defined()) {
    checkFloat(shape, "onebit::chunkScales shape");
    AUTOGLM_CHECK(shape.numel() == x.numel(), "onebit::chunkScales: shape has ", shape.numel(), " elements, x has ",
                  x.numel());
  }
  chunkScalesInto(x.data_ptr<float>(), shape.defined() ? shape.data_ptr<float>() : nullptr, x.numel(), chunk, valid,
                  scales.data_ptr<float>());
  return scales;
}

at::Tensor chunkShape(const at::Tensor& prior, const OnebitLayout& layout) {
  checkFloat(prior, "onebit::chunkShape");
  AUTOGLM_CHECK(prior.numel() == layout.numel, "onebit::chunkShape: prior has ", prior.numel(),
                " elements, layout has ", layout.numel);
  at::Tensor out = at::empty({layout.ranks * layout.part}, prior.options());
  const float* m = prior.data_ptr<float>();
  float* d = out.data_ptr<float>();
  const int64_t grain = std::max<int64_t>(1, 65536 / layout.chunk);
  at::parallel_for(0, layout.ranks * layout.chunks, grain, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t p = c / layout.chunks;
      const int64_t lo = p * layout.part + (c % layout.chunks) * layout.chunk;
      const int64_t end = std::min(lo + layout.chunk, (p + 1) * layout.part);
      const int64_t hi = std::min(end, layout.numel);
      const double mean = hi > lo ? absSum(m, lo, hi) / static_cast<double>(hi - lo) : 0.0;
      if (!(mean > 0.0)) {
        std::fill(d + lo, d + end, 1.0f);
        continue;
      }
      const float floor = kShapeFloor * static_cast<float>(mean);
      for (int64_t i = lo; i < hi; ++i) d[i] = m[i] + floor;
      std::fill(d + hi, d + end, floor);  // padding
    }
  });
  return out;
}

at::Tensor unpackSigns(const at::Tensor& bits, const at::Tensor& scales, int64_t chunk, int64_t valid) {
  AUTOGLM_CHECK(bits.scalar_type() == at::kByte && bits.is_contiguous() && bits.is_cpu(),
                "onebit::unpackSigns: bits must be contiguous uint8 on the CPU");
  checkFloat(scales, "onebit::unpackSigns scales");
  const int64_t n = 8 * bits.numel();
  AUTOGLM_CHECK(chunk > 0 && chunk % 8 == 0 && scales.numel() >= (n + chunk - 1) / chunk, "onebit::unpackSigns: ",
                scales.numel(), " scales for ", n, " elements in chunks of ", chunk);
  at::Tensor out = at::empty({n}, scales.options());
  unpackSignsInto(bits.data_ptr<uint8_t>(), bits.numel(), scales.data_ptr<float>(), chunk, valid,
                  out.data_ptr<float>());
  return out;
}

at::Tensor nonzeroChunks(const at::Tensor& g, const OnebitLayout& layout) {
  checkFloat(g, "onebit::nonzeroChunks");
  AUTOGLM_CHECK(g.numel() == layout.numel, "onebit::nonzeroChunks: ", g.numel(), " elements, layout has ",
                layout.numel);
  at::Tensor out = at::empty({layout.ranks * layout.chunks}, g.options().dtype(at::kByte));
  const float* x = g.data_ptr<float>();
  uint8_t* dst = out.data_ptr<uint8_t>();
  const int64_t grain = std::max<int64_t>(1, 65536 / layout.chunk);
  at::parallel_for(0, out.numel(), grain, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t p = c / layout.chunks;
      const int64_t lo = p * layout.part + (c % layout.chunks) * layout.chunk;
      const int64_t hi = std::min({lo + layout.chunk, (p + 1) * layout.part, layout.numel});
      uint8_t any = 0;
      for (int64_t i = lo; i < hi && any == 0; ++i) any = x[i] != 0.0f;
      dst[c] = any;
    }
  });
  return out;
}

void encodePart(const at::Tensor& x, const OnebitLayout& layout, int index, at::Tensor out,
                const at::Tensor& active, const at::Tensor& shape) {
  checkFloat(x, "onebit::encodePart");
  AUTOGLM_CHECK(x.numel() == layout.part, "onebit::encodePart: ", x.numel(), " elements, part has ",
                layout.part);
  AUTOGLM_CHECK(out.scalar_type() == at::kByte && out.is_contiguous() && out.numel() == layout.partBytes(),
                "onebit::encodePart: output must be contiguous uint8 of ", layout.partBytes(), " bytes");
  uint8_t* dst = out.data_ptr<uint8_t>();
  const float* src = x.data_ptr<float>();
  packSignsInto(src, layout.part, dst);
  std::vector<float> scales(static_cast<size_t>(layout.chunks));
  if (shape.defined()) {
    checkFloat(shape, "onebit::encodePart shape");
    AUTOGLM_CHECK(shape.numel() == layout.part, "onebit::encodePart: shape has ", shape.numel(),
                  " elements, part has ", layout.part);
  }
  chunkScalesInto(src, shape.defined() ? shape.data_ptr<float>() : nullptr, layout.part, layout.chunk,
                  layout.valid(index), scales.data());
  if (active.defined()) {
    AUTOGLM_CHECK(active.scalar_type() == at::kByte && active.is_contiguous() && active.numel() == layout.chunks,
                  "onebit::encodePart: active must be contiguous uint8 of ", layout.chunks, " chunks");
    const uint8_t* on = active.data_ptr<uint8_t>();
    for (int64_t k = 0; k < layout.chunks; ++k) {
      if (on[k] == 0) scales[static_cast<size_t>(k)] = 0.0f;
    }
  }
  std::memcpy(dst + layout.part / 8, scales.data(), scales.size() * sizeof(float));
}

at::Tensor decodePart(const at::Tensor& row, const OnebitLayout& layout, int index, const at::Tensor& shape) {
  AUTOGLM_CHECK(row.scalar_type() == at::kByte && row.is_contiguous() && row.numel() == layout.partBytes(),
                "onebit::decodePart: input must be contiguous uint8 of ", layout.partBytes(), " bytes, got ",
                row.numel());
  const uint8_t* src = row.data_ptr<uint8_t>();
  std::vector<float> scales(static_cast<size_t>(layout.chunks));
  std::memcpy(scales.data(), src + layout.part / 8, scales.size() * sizeof(float));
  at::Tensor out = at::empty({layout.part}, at::TensorOptions().dtype(at::kFloat));
  unpackSignsInto(src, layout.part / 8, scales.data(), layout.chunk, layout.valid(index), out.data_ptr<float>());
  if (shape.defined()) {
    AUTOGLM_CHECK(shape.numel() == layout.part, "onebit::decodePart: shape has ", shape.numel(),
                  " elements, part has ", layout.part);
    out.mul_(shape);
  }
  return out;
}

}  // namespace onebit

OnebitCompressor::OnebitCompressor(const CompressionConfig& cfg)
    : warmup_steps_(cfg.warmup_steps),
      chunk_(cfg.chunk_elems),
      skip_zero_chunks_(cfg.skip_zero_chunks),
      shape_(cfg.shape) {
  core::checkConfig(cfg, "parallel.compression");
}

void OnebitCompressor::setShape(int bucket_id, at::Tensor prior) {
  if (!usesShape()) return;
  if (!prior.defined()) {
    priors_.erase(bucket_id);
    return;
  }
  checkFloat(prior, "onebit compressor: shape prior");
  priors_[bucket_id] = std::move(prior);
}

at::Tensor OnebitCompressor::takePrior(int bucket_id, int64_t numel) {
  const auto it = priors_.find(bucket_id);
  if (it == priors_.end()) return {};
  at::Tensor prior = std::move(it->second);
  priors_.erase(it);
  AUTOGLM_CHECK(prior.numel() == numel, "onebit compressor: the shape prior of bucket ", bucket_id, " has ",
                prior.numel(), " elements, the bucket ", numel);
  return prior;
}

void OnebitCompressor::reduce(int bucket_id, at::Tensor& bucket, int64_t step, comm::Communicator& comm) {
  const int64_t n = bucket.numel();
  const at::Tensor prior = takePrior(bucket_id, n);
  auto found = residuals_.find(bucket_id);
  const int64_t state_numel = found != residuals_.end() ? found->second.worker.numel() : -1;
  if (!beginCompressed("onebit", bucket_id, bucket, step, warmup_steps_, state_numel, comm, stats_)) {
    return;
  }

  const int ranks = comm.size();
  const int rank = comm.rank();
  const OnebitLayout layout = onebitLayout(n, ranks, chunk_);
  Residuals& res = residuals_[bucket_id];
  if (!res.worker.defined()) res.worker = at::zeros({n}, bucket.options());
  if (!res.server.defined()) {
    res.server = at::zeros({layout.part}, bucket.options());
  } else if (res.server.numel() != layout.part) {
    throw CheckpointError(concat("onebit compressor: ", stateKey("server_residual", bucket_id),
                                 " has ", res.server.numel(), " elements but bucket ", bucket_id, " (", n,
                                 " elements over ", ranks, " ranks) needs ", layout.part,
                                 "; was the state saved with a different number of ranks?"));
  }

  // Chunks that are zero on every rank; undefined when none are skipped.
  at::Tensor active;
  if (skip_zero_chunks_) {
    active = onebit::nonzeroChunks(bucket, layout);
    if (ranks > 1) {
      comm.allreduce(active, {comm::ReduceOp::kMax})->wait();
      stats_.bytes_sent += static_cast<int64_t>(active.nbytes());
    }
  }
  const auto activeOf = [&](int p) { return sliceOrNone(active, p, layout.chunks); };
  const at::Tensor shape = prior.defined() ? onebit::chunkShape(prior, layout) : at::Tensor();
  const auto shapeOf = [&](int p) { return sliceOrNone(shape, p, layout.part); };

  // Worker: compress c = g + e_worker, part p for rank p.
  at::Tensor c = at::zeros({ranks * layout.part}, bucket.options());
  at::Tensor c_real = c.narrow(0, 0, n);
  at::add_out(c_real, bucket, res.worker);
  at::Tensor send = at::empty({ranks, layout.partBytes()}, bucket.options().dtype(at::kByte));
  for (int p = 0; p < ranks; ++p) {
    onebit::encodePart(c.narrow(0, p * layout.part, layout.part), layout, p, send[p], activeOf(p), shapeOf(p));
  }
  auto stage1 = comm.alltoall(send, {});
  stats_.bytes_sent += static_cast<int64_t>(send.nbytes());
  // New worker error while the all-to-all runs.
  for (int p = 0; p < ranks; ++p) {
    const int64_t v = layout.valid(p);
    if (v == 0) continue;
    at::Tensor e = res.worker.narrow(0, p * layout.part, v);
    at::sub_out(e, c.narrow(0, p * layout.part, v),
                onebit::decodePart(send[p], layout, p, shapeOf(p)).narrow(0, 0, v));
  }
  stage1->wait();
  const at::Tensor recv = stage1->result()[0];

  // Server: average this rank's part over the ranks (rank order), add the server
  // error, compress again.
  at::Tensor x = onebit::decodePart(recv[0], layout, rank, shapeOf(rank));
  for (int p = 1; p < ranks; ++p) x.add_(onebit::decodePart(recv[p], layout, rank, shapeOf(rank)));
  if (ranks > 1) x.div_(ranks);
  x.add_(res.server);
  at::Tensor mine = at::empty({layout.partBytes()}, send.options());
  onebit::encodePart(x, layout, rank, mine, activeOf(rank), shapeOf(rank));
  auto stage2 = comm.allgather(mine, {});
  stats_.bytes_sent += static_cast<int64_t>(mine.nbytes());
  at::sub_out(res.server, x, onebit::decodePart(mine, layout, rank, shapeOf(rank)));
  stage2->wait();
  const at::Tensor all = stage2->result()[0];

  for (int p = 0; p < ranks; ++p) {
    const int64_t v = layout.valid(p);
    if (v == 0) continue;
    bucket.narrow(0, p * layout.part, v).copy_(onebit::decodePart(all[p], layout, p, shapeOf(p)).narrow(0, 0, v));
  }
}

CompressorState OnebitCompressor::state() const {
  CompressorState out;
  for (const auto& [id, res] : residuals_) {
    out.emplace_back(stateKey("residual", id), res.worker.clone());
    if (res.server.defined()) out.emplace_back(stateKey("server_residual", id), res.server.clone());
  }
  return out;
}

void OnebitCompressor::loadState(const CompressorState& state) {
  std::map<int, Residuals> loaded = loadBucketState<Residuals>(
      state, residuals_, {{"residual", &Residuals::worker}, {"server_residual", &Residuals::server}}, "onebit");
  for (const auto& [id, res] : loaded) {
    const std::string server_key = stateKey("server_residual", id);
    if (!res.worker.defined()) {
      throw CheckpointError(concat("onebit compressor state entry '", server_key, "' without '",
                                   stateKey("residual", id), "'"));
    }
    if (res.server.defined() &&
        (res.server.numel() % 8 != 0 || res.server.numel() > (res.worker.numel() + chunk_ - 1) / chunk_ * chunk_)) {
      throw CheckpointError(concat("onebit compressor state entry '", server_key, "' has ", res.server.numel(),
                                   " elements, which is no part of a bucket of ", res.worker.numel()));
    }
  }
  residuals_ = std::move(loaded);
  stats_ = {};
}

}  // namespace autoglm::parallel::data_parallel::compression
