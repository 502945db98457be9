#pragma once
// Small non-cryptographic hashes for fingerprints and file checksums.

#include <boost/crc.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace autoglm::core {

// 64-bit FNV-1a: fingerprints of configs and vocabularies.
class Fnv1a {
 public:
  void add(const void* data, size_t n) {
    auto p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) {
      h_ ^= p[i];
      h_ *= 1099511628211ull;
    }
  }
  void add(const std::string& s) { add(s.data(), s.size()); add("\0", 1); }
  template <typename T>
  void addValue(const T& v) { add(&v, sizeof(T)); }
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = 14695981039346656037ull;
};

// CRC-32 of a buffer (Boost.CRC): checksums of cache and checkpoint files.
inline uint32_t crc32(const void* data, size_t n) {
  boost::crc_32_type crc;
  crc.process_bytes(data, n);
  return crc.checksum();
}

inline std::string hex64(uint64_t v) {
  static const char* digits = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[static_cast<size_t>(i)] = digits[v & 0xf];
  return s;
}

}  // namespace autoglm::core
