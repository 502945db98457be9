#pragma once
// Settings of the gradient compressors, YAML section `parallel.compression`.
// The bounds of every setting are declared here, once: YAML loading and
// makeCompressor() (core::checkConfig) both apply them.

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "core/yaml_config.h"

namespace autoglm::parallel::data_parallel::compression {

enum class CompressionType { kNone, kFp16, kBf16, kOnebit, kTopk };
constexpr std::array<core::EnumName<CompressionType>, 5> enumNames(CompressionType) {
  return {{{CompressionType::kNone, "none"},
           {CompressionType::kFp16, "fp16"},
           {CompressionType::kBf16, "bf16"},
           {CompressionType::kOnebit, "onebit"},
           {CompressionType::kTopk, "topk"}}};
}

// onebit: the magnitude each element of a chunk decodes to.
//   uniform  sign * scale: every element of a chunk gets the chunk's mean |x|
//   adam     sign * scale * d, d from the optimizer's second moment (sqrt(v),
//            identical on every rank), scale the least-squares fit (onebit.h):
//            elements Adam has seen small stay small instead of receiving the
//            chunk's full scale. It needs Adam's v, so it takes effect once the
//            optimizer has state (use it with warmup_steps).
enum class ShapeKind { kUniform, kAdam };
constexpr std::array<core::EnumName<ShapeKind>, 2> enumNames(ShapeKind) {
  return {{{ShapeKind::kUniform, "uniform"}, {ShapeKind::kAdam, "adam"}}};
}

struct CompressionConfig {
  CompressionType type = CompressionType::kNone;
  int64_t warmup_steps = 0;      // onebit, topk: uncompressed (plain average) steps first
  // onebit: elements per scale; the default is one row of a 128-d embedding
  // (benchmarks/README-dp.md has the accuracy per chunk size). 128 costs 1.25
  // bits per element.
  int64_t chunk_elems = 128;
  // onebit: chunks whose gradient is zero on every rank are sent as zero and keep
  // their residuals (onebit.h), instead of returning their residual as +-scale.
  bool skip_zero_chunks = true;
  ShapeKind shape = ShapeKind::kUniform;  // onebit: see ShapeKind
  // onebit, topk: Adam's second moment stops moving after the warm-up (the
  // variance freeze of 1-bit Adam), so that compression error does not inflate
  // it; needs warmup_steps > 0 and train.fused_optimizer (trainer/optim/optimizer.h).
  bool freeze_variance = false;
  double ratio = 0.01;           // topk: fraction of each bucket sent
  double momentum = 0.0;         // topk: momentum correction factor (0 = error feedback only)
  int64_t sample_elems = 16384;  // topk: elements sampled to estimate the threshold

  template <class V>
  void visit(V& v) {
    v.field("type", type);
    v.field("warmup_steps", warmup_steps, core::check::atLeast<int64_t>(0));
    v.field("chunk_elems", chunk_elems,
            core::check::all<int64_t>({core::check::between<int64_t>(8, int64_t{1} << 24),
                                       core::check::multipleOf<int64_t>(8)}));
    v.field("skip_zero_chunks", skip_zero_chunks);
    v.field("shape", shape);
    v.field("freeze_variance", freeze_variance);
    v.field("ratio", ratio, core::Check<double>([](const double& r) -> std::optional<std::string> {
              if (!(r > 0.0 && r <= 1.0)) return std::string("must be in (0, 1]");
              return std::nullopt;
            }));
    v.field("momentum", momentum, core::check::openFraction());
    v.field("sample_elems", sample_elems, core::check::atLeast<int64_t>(64));
  }
};

}  // namespace autoglm::parallel::data_parallel::compression
