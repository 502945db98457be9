#pragma once
// 1-bit compression with error feedback, aggregated in two compressed stages
// (1-bit Adam / 1-bit LAMB, Tang et al. 2021).
//
// A bucket of n elements is split into one part per rank; each part holds
// ceil(n / ranks) elements rounded up to a multiple of the chunk when that is at
// least one chunk, else to a multiple of 8 (the elements past n are padding,
// zero and never used). With the reducer's alignment (alignment()) a chunk then
// never spans two parameters. A part is compressed to its sign bits (8 per
// byte, element 8b+k in bit k of byte b, set when the element is >= 0) and one
// float32 scale per chunk of `chunk_elems` elements (the last chunk of a part may
// be shorter): scale = mean |x| over the chunk's real elements, the scale that
// minimises the L2 error of scale * sign(x).
//
// Skipped chunks (skip_zero_chunks, the default): a chunk whose gradient is zero
// on every rank (an embedding row no document of the step touched) is sent with
// scale 0 in both stages, so it decodes to exactly zero and both residuals keep
// what they held for it (delivered when the row is next touched). Without this,
// the residual left in such a row came back as +-scale every step, and Adam
// turned that into updates of every rare word's embedding. The ranks learn
// which chunks are skipped from a max all-reduce of one byte per chunk.
//
// Shaped chunks (shape: adam): with a prior m >= 0 per element (sqrt of Adam's
// second moment, the same on every rank), element i of a chunk decodes to
// sign(x_i) * scale * d_i with d_i = m_i + kShapeFloor * mean(m over the chunk)
// (d = 1 where the chunk's m is all zero) and scale = sum |x_i| d_i / sum d_i^2,
// the least-squares fit. The same bits and bytes as uniform chunks; elements
// the optimizer has seen small get small values instead of the chunk's mean |x|.
//
// reduce() after warm-up, on rank j:
//   skipped chunks: max all-reduce of (chunk of g has a nonzero element)
//   c = g + e_worker; e_worker = c - decompress(compress(c))
//   stage 1: all-to-all of the compressed parts (rank j gets part j of everyone),
//            s_j = mean over ranks of the decompressed parts (in rank order);
//            x = s_j + e_server; e_server = x - decompress(compress(x))
//   stage 2: all-gather of the compressed parts x; every rank decompresses all of
//            them, so the result is identical on every rank.
// Bytes handed to the communicator per rank: ranks * part / 8 (all-to-all) +
// part / 8 (all-gather) + 4 bytes per scale (+ 1 byte per chunk of the bucket
// for the skipped chunks), about n/8 * (1 + 1/ranks): it does not grow with the
// number of ranks.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>

#include "parallel/data_parallel/compression/compressor.h"

namespace autoglm::parallel::data_parallel::compression {

// How a bucket of `numel` elements is split over `ranks` parts.
struct OnebitLayout {
  int64_t numel = 0;   // real elements of the bucket
  int ranks = 1;       // parts
  int64_t part = 0;    // elements per part: ceil(numel / ranks) rounded up to chunks (or to 8 below one)
  int64_t chunk = 8;   // elements per scale
  int64_t chunks = 0;  // scales per part: ceil(part / chunk)

  // Bytes of one compressed part: part / 8 sign bytes, then `chunks` float32 scales.
  int64_t partBytes() const { return part / 8 + 4 * chunks; }
  // Real (non-padding) elements of part `index`.
  int64_t valid(int index) const;
};

// Throws Error unless numel >= 0, ranks >= 1 and chunk is a positive multiple of 8.
OnebitLayout onebitLayout(int64_t numel, int ranks, int64_t chunk);

namespace onebit {

// Sign bits of `x` (contiguous float32, numel a multiple of 8): uint8 [numel / 8],
// element 8b+k in bit k of byte b, set when x >= 0 (NaN counts as negative).
at::Tensor packSigns(const at::Tensor& x);

// One scale per chunk of `chunk` elements of `x` (contiguous float32; the last
// chunk may be shorter): mean |x| over the chunk's elements with index < valid,
// 0 for a chunk without such elements. With `shape` (float32, x's size, > 0):
// sum |x_i| shape_i / sum shape_i^2 over the same elements.
at::Tensor chunkScales(const at::Tensor& x, int64_t chunk, int64_t valid, const at::Tensor& shape = {});

// Share of a chunk's mean prior added to every element's magnitude, so that no
// element of a shaped chunk decodes to (almost) zero for ever.
constexpr float kShapeFloor = 0.1f;

// The magnitudes d of a shaped bucket from its prior (contiguous float32
// [layout.numel], >= 0): float32 [layout.ranks * layout.part], part p at
// p * part; padding past numel gets its chunk's floor, or 1.
at::Tensor chunkShape(const at::Tensor& prior, const OnebitLayout& layout);

// out[i] = bit i set ? scales[i / chunk] : -scales[i / chunk] for i < valid, 0 for
// valid <= i < 8 * bits.numel(). float32 [8 * bits.numel()]; chunk a multiple of 8.
at::Tensor unpackSigns(const at::Tensor& bits, const at::Tensor& scales, int64_t chunk, int64_t valid);

// uint8 [layout.ranks * layout.chunks]: entry p * chunks + k is 1 when chunk k of
// part p of `g` (contiguous float32 [layout.numel]) holds a nonzero element, else 0.
at::Tensor nonzeroChunks(const at::Tensor& g, const OnebitLayout& layout);

// Writes the compressed form of part `index` (x: contiguous float32 [layout.part],
// zero past its valid elements) into `out` (contiguous uint8 [layout.partBytes()]).
// `active` (uint8 [layout.chunks], undefined for all): chunks where it is 0 get
// scale 0, so they decode to zero. `shape` (float32 [layout.part], this part of
// chunkShape(); undefined for uniform chunks): the least-squares scales.
void encodePart(const at::Tensor& x, const OnebitLayout& layout, int index, at::Tensor out,
                const at::Tensor& active = {}, const at::Tensor& shape = {});

// The decompressed part `index` from its compressed form `row` (uint8
// [layout.partBytes()]): float32 [layout.part], zero past its valid elements;
// times `shape` elementwise when it is defined (as given to encodePart).
at::Tensor decodePart(const at::Tensor& row, const OnebitLayout& layout, int index, const at::Tensor& shape = {});

}  // namespace onebit

class OnebitCompressor final : public Compressor {
 public:
  // Throws ConfigError for settings outside CompressionConfig's bounds.
  explicit OnebitCompressor(const CompressionConfig& cfg);

  std::string name() const override { return "onebit"; }
  // One chunk: with 128-d embeddings a chunk is one row of the table.
  int64_t alignment() const override { return chunk_; }
  void reduce(int bucket_id, at::Tensor& bucket, int64_t step, comm::Communicator& comm) override;
  bool usesShape() const override { return shape_ == ShapeKind::kAdam; }
  void setShape(int bucket_id, at::Tensor prior) override;
  // "residual.<bucket>" (worker error, bucket size), "server_residual.<bucket>"
  // (server error of this rank's part, layout.part elements).
  CompressorState state() const override;
  void loadState(const CompressorState& state) override;

 private:
  struct Residuals {
    at::Tensor worker;  // [numel]
    at::Tensor server;  // [part]; undefined until the first compressed step
  };

  // The prior setShape() left for the bucket (undefined for none), removed;
  // throws Error unless it has `numel` elements.
  at::Tensor takePrior(int bucket_id, int64_t numel);

  int64_t warmup_steps_;
  int64_t chunk_;
  bool skip_zero_chunks_;
  ShapeKind shape_;
  std::map<int, Residuals> residuals_;
  std::map<int, at::Tensor> priors_;  // setShape() for the next reduce() of each bucket
};

}  // namespace autoglm::parallel::data_parallel::compression
