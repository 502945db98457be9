#pragma once
// Helpers shared by the single-process compressor tests.

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Functions.h>

#include <cstdint>
#include <string>

#include "parallel/data_parallel/compression/compressor.h"

namespace autoglm::parallel::data_parallel::compression::test_util {

inline const at::TensorOptions kF32 = at::TensorOptions().dtype(at::kFloat);

// n standard-normal float32 values from `seed`.
inline at::Tensor randn(int64_t n, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn({n}, gen, kF32);
}

// The compressor's state entry named `key`; undefined when it has none.
inline at::Tensor stateEntry(const Compressor& c, const std::string& key) {
  for (const auto& [k, t] : c.state()) {
    if (k == key) return t;
  }
  return {};
}

}  // namespace autoglm::parallel::data_parallel::compression::test_util
