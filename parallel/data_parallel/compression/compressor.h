#pragma once
// Gradient compressors: how one flat gradient bucket is averaged over the
// data-parallel group (YAML `parallel.compression`).
//
//   none   plain all-reduce (average) of float32
//   fp16   cast to float16 (pre-divided by the group size), all-reduce, cast back
//   bf16   same with bfloat16
//   onebit sign bits plus one scale per chunk, with error feedback, after
//          `warmup_steps` uncompressed steps; aggregated in two compressed
//          stages (all-to-all of chunks + average + recompress, then all-gather),
//          as 1-bit Adam does, so the volume per rank does not grow with ranks
//   topk   the largest `ratio` of each bucket by magnitude, with error feedback
//          and momentum correction (Deep Gradient Compression); indices and
//          values travel by variable-size all-gather and are summed in rank order
//
// The GradientReducer calls reduce() for each bucket, in bucket order, from its
// synchronisation thread while backward continues; every rank calls it for the
// same buckets in the same order.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "comm/communicator.h"
#include "parallel/data_parallel/compression/compression_config.h"

namespace autoglm::parallel::data_parallel::compression {

// Counters since construction (or loadState), for logs and benchmarks.
struct CompressorStats {
  int64_t calls = 0;                // reduce() calls
  int64_t elements = 0;             // gradient elements passed to reduce()
  int64_t compressed_elements = 0;  // of those, elements reduced in compressed form (after warm-up)
  int64_t selected_elements = 0;    // topk: elements selected (achieved ratio = selected / compressed)
  int64_t bytes_sent = 0;           // bytes of the tensors this rank handed to the communicator
};

// State tensors by name, for checkpoints ("residual.3", "momentum.3", ...).
using CompressorState = std::vector<std::pair<std::string, at::Tensor>>;

class Compressor {
 public:
  virtual ~Compressor() = default;
  virtual std::string name() const = 0;

  // Replaces `bucket` (a contiguous 1-D float32 CPU tensor, this rank's summed
  // gradient) in place by the average over `comm` of every rank's bucket: exact
  // for none, approximated (and identical on every rank) for the others.
  // `bucket_id` keys per-bucket state; `step` is the 0-based optimizer step the
  // gradient belongs to (warm-up). Blocking; one call at a time.
  virtual void reduce(int bucket_id, at::Tensor& bucket, int64_t step, comm::Communicator& comm) = 0;

  // Elements: the reducer starts every parameter at a multiple of this in its
  // bucket (zero padding between), so that no scale chunk spans two parameters.
  virtual int64_t alignment() const { return 1; }
  // The type row-sparse gradients' rows travel as under this compressor
  // (row_sparse.h): float32, or the half type of fp16 and bf16. onebit and
  // topk compress buckets only.
  virtual at::ScalarType rowWire() const { return at::kFloat; }

  // Whether reduce() uses a magnitude prior per element (onebit with
  // shape: adam); the reducer then calls setShape() before each reduce().
  virtual bool usesShape() const { return false; }
  // The prior for bucket `bucket_id`'s next reduce(): float32 [bucket numel],
  // >= 0, zero where unknown, identical on every rank; undefined for none.
  virtual void setShape(int bucket_id, at::Tensor prior) {
    (void)bucket_id;
    (void)prior;
  }

  // Per-rank state that must survive a checkpoint (residuals, momentum).
  virtual CompressorState state() const { return {}; }
  // Restores state(); throws CheckpointError naming the entry on a mismatch.
  virtual void loadState(const CompressorState& state) { (void)state; }

  const CompressorStats& stats() const { return stats_; }

 protected:
  CompressorStats stats_;
};

// parallel.compression.shape other than uniform needs type onebit; throws
// ConfigError naming both keys (makeCompressor and experiment validation).
void checkShapeAgainstType(const CompressionConfig& cfg);

// Throws ConfigError naming the key ("parallel.compression.ratio=2: must be in
// (0, 1]") for settings outside the bounds CompressionConfig declares.
std::unique_ptr<Compressor> makeCompressor(const CompressionConfig& cfg);

// Shared by the compressors (compressor.cc).

// Throws Error unless `bucket` is a contiguous 1-D float32 CPU tensor.
void checkBucket(const at::Tensor& bucket, const std::string& compressor, int bucket_id);

// "residual.3" from ("residual", 3).
std::string stateKey(const std::string& prefix, int bucket_id);

// Splits "residual.3" into ("residual", 3); throws CheckpointError naming `key`
// when it does not have that form or `prefix` is not one of `prefixes`.
std::pair<std::string, int> parseStateKey(const std::string& key, const std::vector<std::string>& prefixes,
                                          const std::string& compressor);

// Throws CheckpointError naming `key` unless `t` is a 1-D float32 CPU tensor,
// of `numel` elements when numel >= 0.
void checkStateTensor(const std::string& key, const at::Tensor& t, int64_t numel, const std::string& compressor);

// Where a compressor's per-bucket state `B` keeps the tensor saved under one
// key prefix: {"residual", &Buffers::residual}.
template <typename B>
struct StateSlot {
  std::string prefix;
  at::Tensor B::*tensor;
};

// Loads one state entry into `slot`: checks `t` (checkStateTensor, against the
// size of `current` when that is defined), throws CheckpointError naming `key`
// when `slot` is already filled (the entry appears twice), and stores a
// contiguous copy.
void loadStateEntry(const std::string& key, const at::Tensor& t, const at::Tensor& current, at::Tensor& slot,
                    const std::string& compressor);

// The common part of loadState() for a compressor holding a `B` per bucket, one
// tensor per slot. For each entry of `state` in order: parses its key
// (parseStateKey over the slots' prefixes), lets `accept(key, prefix)` reject
// it by throwing, and loads it (loadStateEntry) against the same tensor of the
// same bucket in `current`. Returns the copies by bucket id; the caller checks
// how a bucket's tensors fit together.
template <typename B>
std::map<int, B> loadBucketState(const CompressorState& state, const std::map<int, B>& current,
                                 const std::vector<StateSlot<B>>& slots, const std::string& compressor,
                                 const std::function<void(const std::string& key, const std::string& prefix)>&
                                     accept = nullptr) {
  std::vector<std::string> prefixes;
  for (const auto& s : slots) prefixes.push_back(s.prefix);
  std::map<int, B> loaded;
  for (const auto& [key, t] : state) {
    const auto [prefix, id] = parseStateKey(key, prefixes, compressor);
    if (accept) accept(key, prefix);
    at::Tensor B::*member = nullptr;
    for (const auto& s : slots) {
      if (s.prefix == prefix) member = s.tensor;
    }
    const auto have = current.find(id);
    loadStateEntry(key, t, have != current.end() ? have->second.*member : at::Tensor(), loaded[id].*member,
                   compressor);
  }
  return loaded;
}

// Plain average (all-reduce kAvg) of `bucket`, counted in `stats` (warm-up steps).
void averageDense(at::Tensor& bucket, comm::Communicator& comm, CompressorStats& stats);

// The common start of a compressing reduce(): checks the bucket, and that its
// size equals that of the bucket's state (state_numel; < 0 when it has none
// yet), counts it in `stats`, and averages it uncompressed during warm-up.
// Returns true when the caller still has to reduce it compressed.
bool beginCompressed(const std::string& compressor, int bucket_id, at::Tensor& bucket, int64_t step,
                     int64_t warmup_steps, int64_t state_numel, comm::Communicator& comm, CompressorStats& stats);

}  // namespace autoglm::parallel::data_parallel::compression
