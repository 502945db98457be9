#pragma once
// Pieces shared by the word-vector readers and writer (word_vectors.cc,
// vectors_binary.cc, vectors_json.cc); not part of the public API.

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/text/word_vectors.h"

namespace autoglm::core::text::detail {

inline constexpr int64_t kProgressRows = 50000;  // rows between ReadProgress calls
inline constexpr char kBinaryMagic[8] = {'A', 'G', 'V', 'E', 'C', '1', '\0', '\0'};

// Offset of the first byte of `s` that is not part of a well-formed UTF-8
// sequence (RFC 3629: no overlong forms, surrogates or code points above
// U+10FFFF); nullopt when all of it is.
std::optional<size_t> firstInvalidUtf8(std::string_view s);

// Why `word` cannot be a vectors key ("empty word", "word ... is not valid
// UTF-8 (byte N)"), or an empty string when it can.
std::string badWordReason(std::string_view word);

// bf16 from float32 with round-to-nearest-even, and back (exact).
inline uint16_t toBFloat16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // NaN stays NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
inline float fromBFloat16(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// The .agvec reader (vectors_binary.cc); fills `info` when given.
std::unique_ptr<WordVectors> openBinaryVectors(const std::string& path, VectorFileInfo* info = nullptr);

}  // namespace autoglm::core::text::detail
