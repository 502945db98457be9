// The .agvec format (word_vectors.h): writer and memory-mapped reader.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "core/error.h"
#include "core/file_io.h"
#include "core/hash.h"
#include "core/mapped_file.h"
#include "core/text/vectors_detail.h"
#include "core/text/word_vectors.h"

namespace autoglm::core::text {
namespace {

struct Header {
  char magic[8];
  uint32_t dtype;
  uint32_t header_bytes;
  uint64_t dim;
  uint64_t count;
  uint64_t words_offset;
  uint64_t words_bytes;
  uint64_t rows_offset;
  uint64_t checksum;
};
static_assert(sizeof(Header) == 64, "the .agvec header is 64 bytes");

uint64_t fnv1a(const char* data, size_t n) {
  Fnv1a h;
  h.add(data, n);
  return h.value();
}

size_t elementBytes(VectorDtype d) { return d == VectorDtype::kBFloat16 ? 2 : 4; }

uint64_t alignUp(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }

// Indices of the table's words in bytewise order; a repeated word is an error.
std::vector<size_t> sortedOrder(const std::string& path, const WordVectorTable& t) {
  std::vector<size_t> order(t.words.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return t.words[a] < t.words[b]; });
  for (size_t i = 0; i < order.size(); ++i) {
    const std::string& w = t.words[order[i]];
    if (const std::string why = detail::badWordReason(w); !why.empty()) throw DataError(path + ": cannot write: " + why);
    if (i > 0 && t.words[order[i - 1]] == w) throw DataError(path + ": cannot write: duplicate word \"" + w + "\"");
  }
  return order;
}

void writeRows(const std::string& path, const WordVectorTable& t, const std::vector<size_t>& order, VectorDtype dtype,
               char* out) {
  const auto dim = static_cast<size_t>(t.dim);
  for (size_t i = 0; i < order.size(); ++i) {
    const float* src = t.row(static_cast<int64_t>(order[i]));
    if (dtype == VectorDtype::kFloat32) {
      std::memcpy(out + i * dim * 4, src, dim * 4);
      continue;
    }
    for (size_t j = 0; j < dim; ++j) {
      const uint16_t h = detail::toBFloat16(src[j]);
      if (!std::isfinite(detail::fromBFloat16(h))) {
        throw DataError(path + ": value " + std::to_string(j + 1) + " of word \"" + t.words[order[i]] +
                        "\" is " + std::to_string(src[j]) + ", which bf16 cannot hold (use --dtype f32)");
      }
      std::memcpy(out + (i * dim + j) * 2, &h, 2);
    }
  }
}

// The mapped file, checked once at open.
class BinaryVectors final : public WordVectors {
 public:
  BinaryVectors(const std::string& path, VectorFileInfo* info) : path_(path), file_(path) {
    const Header h = checkHeader();
    dtype_ = static_cast<VectorDtype>(h.dtype);
    dim_ = static_cast<int64_t>(h.dim);
    count_ = static_cast<int64_t>(h.count);
    offsets_ = reinterpret_cast<const uint64_t*>(file_.data() + sizeof(Header));
    words_ = file_.data() + h.words_offset;
    words_bytes_ = h.words_bytes;
    rows_ = file_.data() + h.rows_offset;
    checkWords();
    if (info != nullptr) {
      info->binary = true;
      info->dtype = dtype_;
      info->checksum = h.checksum;
    }
  }
  int64_t dim() const override { return dim_; }
  int64_t size() const override { return count_; }
  const std::string& path() const override { return path_; }

  bool lookup(std::string_view word, float* out) const override {
    int64_t lo = 0, hi = count_;
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (wordAt(mid) < word) lo = mid + 1;
      else hi = mid;
    }
    if (lo == count_ || wordAt(lo) != word) return false;
    copyRow(lo, out);
    return true;
  }

  // Word i (in sorted order) and its row, for readBinaryVectors.
  std::string_view wordAt(int64_t i) const {
    const uint64_t b = offsets_[i];
    const uint64_t e = i + 1 < count_ ? offsets_[i + 1] : words_bytes_;
    return {words_ + b, static_cast<size_t>(e - b - 1)};
  }
  void copyRow(int64_t i, float* out) const {
    const auto dim = static_cast<size_t>(dim_);
    if (dtype_ == VectorDtype::kFloat32) {
      std::memcpy(out, rows_ + static_cast<size_t>(i) * dim * 4, dim * 4);
      return;
    }
    const char* r = rows_ + static_cast<size_t>(i) * dim * 2;
    for (size_t j = 0; j < dim; ++j) {
      uint16_t h;
      std::memcpy(&h, r + j * 2, 2);
      out[j] = detail::fromBFloat16(h);
    }
  }

 private:

  [[noreturn]] void corrupt(const std::string& what) const {
    throw DataError(path_ + ": corrupt word vectors file: " + what);
  }

  Header checkHeader() const {
    Header h{};
    if (file_.size() < sizeof(Header)) corrupt("shorter than its " + std::to_string(sizeof(Header)) + "-byte header");
    std::memcpy(&h, file_.data(), sizeof(h));
    if (std::memcmp(h.magic, detail::kBinaryMagic, 8) != 0) corrupt("bad magic");
    if (h.header_bytes != sizeof(Header)) corrupt("header size " + std::to_string(h.header_bytes) + ", expected 64");
    if (h.dtype > 1) corrupt("unknown dtype " + std::to_string(h.dtype));
    if (h.dim < 1 || h.dim > (1u << 24)) corrupt("dimension " + std::to_string(h.dim));
    const uint64_t size = file_.size();
    const uint64_t elem = elementBytes(static_cast<VectorDtype>(h.dtype));
    if (h.count > (size - sizeof(Header)) / 8 || h.words_offset != sizeof(Header) + 8 * h.count ||
        h.words_bytes > size - h.words_offset || h.words_bytes < h.count ||
        h.rows_offset < h.words_offset + h.words_bytes || h.rows_offset % 8 != 0 || h.rows_offset > size ||
        (size - h.rows_offset) / elem / h.dim != h.count || (size - h.rows_offset) % (elem * h.dim) != 0) {
      corrupt("its sections do not add up to its size of " + std::to_string(size) + " bytes (truncated?)");
    }
    if (fnv1a(file_.data() + sizeof(Header), size - sizeof(Header)) != h.checksum) {
      corrupt("checksum mismatch (the file was modified or truncated; convert it again)");
    }
    return h;
  }

  // Offsets rise, every word ends in NUL, and the words are sorted and distinct.
  void checkWords() const {
    for (int64_t i = 0; i < count_; ++i) {
      const uint64_t b = offsets_[i];
      const uint64_t e = i + 1 < count_ ? offsets_[i + 1] : words_bytes_;
      if ((i == 0 && b != 0) || e <= b + 1 || e > words_bytes_ || words_[e - 1] != '\0') {
        corrupt("word " + std::to_string(i) + " has a bad offset");
      }
      if (i > 0 && !(wordAt(i - 1) < wordAt(i))) corrupt("words not sorted at word " + std::to_string(i));
    }
  }

  std::string path_;
  MappedFile file_;
  VectorDtype dtype_ = VectorDtype::kFloat32;
  int64_t dim_ = 0;
  int64_t count_ = 0;
  const uint64_t* offsets_ = nullptr;
  const char* words_ = nullptr;
  uint64_t words_bytes_ = 0;
  const char* rows_ = nullptr;
};

}  // namespace

namespace detail {
std::unique_ptr<WordVectors> openBinaryVectors(const std::string& path, VectorFileInfo* info) {
  return std::make_unique<BinaryVectors>(path, info);
}
}  // namespace detail

WordVectorTable readBinaryVectors(const std::string& path, const KeepWord& keep) {
  const BinaryVectors v(path, nullptr);
  WordVectorTable t;
  t.dim = v.dim();
  for (int64_t i = 0; i < v.size(); ++i) {
    const std::string_view w = v.wordAt(i);
    if (keep && !keep(w)) continue;
    t.words.emplace_back(w);
    t.values.resize(t.values.size() + static_cast<size_t>(t.dim));
    v.copyRow(i, t.values.data() + t.values.size() - static_cast<size_t>(t.dim));
  }
  return t;
}

void writeBinaryVectors(const std::string& path, const WordVectorTable& table, VectorDtype dtype) {
  if (table.words.empty()) throw DataError(path + ": no word vectors to write");
  AUTOGLM_CHECK(table.dim > 0 && table.values.size() == table.words.size() * static_cast<size_t>(table.dim),
                "word vector table of ", table.words.size(), " words, dim ", table.dim, ", ", table.values.size(),
                " values");
  const std::vector<size_t> order = sortedOrder(path, table);
  Header h{};
  std::memcpy(h.magic, detail::kBinaryMagic, 8);
  h.dtype = static_cast<uint32_t>(dtype);
  h.header_bytes = sizeof(Header);
  h.dim = static_cast<uint64_t>(table.dim);
  h.count = order.size();
  h.words_offset = sizeof(Header) + 8 * h.count;
  for (const std::string& w : table.words) h.words_bytes += w.size() + 1;
  h.rows_offset = alignUp(h.words_offset + h.words_bytes, 8);
  std::string buf(h.rows_offset + h.count * h.dim * elementBytes(dtype), '\0');
  uint64_t at = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    const std::string& w = table.words[order[i]];
    std::memcpy(&buf[sizeof(Header) + 8 * i], &at, 8);
    std::memcpy(&buf[h.words_offset + at], w.data(), w.size());  // the NUL is already there
    at += w.size() + 1;
  }
  writeRows(path, table, order, dtype, &buf[h.rows_offset]);
  h.checksum = fnv1a(buf.data() + sizeof(Header), buf.size() - sizeof(Header));
  std::memcpy(buf.data(), &h, sizeof(h));
  try {
    replaceFileAtomic(path, buf);
  } catch (const std::system_error& e) {
    throw DataError(path + ": cannot write word vectors: " + e.what());
  }
}

}  // namespace autoglm::core::text
