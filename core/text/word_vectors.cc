#include "core/text/word_vectors.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>
#include <unordered_map>

#include "core/error.h"
#include "core/text/vectors_detail.h"

namespace autoglm::core::text {
namespace detail {

std::optional<size_t> firstInvalidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t lo = 0x80, hi = 0xbf;  // allowed range of the second byte
    if (b < 0x80) n = 1;
    else if (b >= 0xc2 && b <= 0xdf) n = 2;
    else if (b >= 0xe0 && b <= 0xef) n = 3, lo = b == 0xe0 ? 0xa0 : 0x80, hi = b == 0xed ? 0x9f : 0xbf;
    else if (b >= 0xf0 && b <= 0xf4) n = 4, lo = b == 0xf0 ? 0x90 : 0x80, hi = b == 0xf4 ? 0x8f : 0xbf;
    else return i;
    if (i + n > s.size()) return i;
    for (size_t k = 1; k < n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xbf)) return i;
    }
    i += n;
  }
  return std::nullopt;
}

std::string badWordReason(std::string_view word) {
  if (word.empty()) return "empty word";
  if (auto at = firstInvalidUtf8(word)) {
    return "word \"" + std::string(word.substr(0, *at)) + "...\" is not valid UTF-8 (byte " + std::to_string(*at) +
           ")";
  }
  return {};
}

}  // namespace detail

bool isBinaryVectors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[sizeof(detail::kBinaryMagic)] = {};
  in.read(head, sizeof(head));
  return in.gcount() == sizeof(head) && std::memcmp(head, detail::kBinaryMagic, sizeof(head)) == 0;
}

namespace {

// Fields separated by runs of spaces or tabs (word2vec writes a space before
// the newline). A leading separator gives an empty first field (an empty word).
void splitFields(std::string_view line, std::vector<std::string_view>* out) {
  out->clear();
  size_t i = 0;
  const auto sep = [](char c) { return c == ' ' || c == '\t'; };
  if (!line.empty() && sep(line[0])) out->emplace_back();
  while (i < line.size()) {
    while (i < line.size() && sep(line[i])) ++i;
    const size_t b = i;
    while (i < line.size() && !sep(line[i])) ++i;
    if (i > b) out->push_back(line.substr(b, i - b));
  }
}

std::optional<int64_t> parseCount(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

// GloVe or word2vec text, one row per line (see word_vectors.h).
class TextReader {
 public:
  TextReader(const std::string& path, const KeepWord& keep, const ReadProgress& progress)
      : path_(path), keep_(keep), progress_(progress) {}

  WordVectorTable read() {
    std::ifstream in(path_, std::ios::binary);
    if (!in) throw DataError(path_ + ": cannot open word vectors: " + std::strerror(errno));
    std::string line;
    while (std::getline(in, line)) {
      ++line_no_;
      bytes_ += line.size() + 1;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      splitFields(line, &fields_);
      if (table_.dim == 0 && rows_ == 0 && !header_count_ && readHeader()) continue;
      readRow();
      if (progress_ && rows_ % detail::kProgressRows == 0) progress_(bytes_, rows_);
    }
    if (in.bad()) throw DataError(path_ + ": read error after line " + std::to_string(line_no_));
    if (rows_ == 0) throw DataError(path_ + ": no word vectors in the file");
    if (header_count_ && *header_count_ != rows_) {
      throw DataError(path_ + ":1: the header says " + std::to_string(*header_count_) + " words, the file has " +
                      std::to_string(rows_) + " (truncated?)");
    }
    return std::move(table_);
  }

 private:
  std::string where() const { return path_ + ":" + std::to_string(line_no_) + ": "; }

  // word2vec's first line "COUNT DIM".
  bool readHeader() {
    if (fields_.size() != 2) return false;
    auto count = parseCount(fields_[0]), dim = parseCount(fields_[1]);
    if (!count || !dim) return false;
    if (*dim < 1) throw DataError(where() + "header \"COUNT DIM\" gives dimension 0");
    header_count_ = *count;
    table_.dim = *dim;
    return true;
  }

  void readRow() {
    if (table_.dim == 0) {
      if (fields_.size() < 2) throw DataError(where() + "a row needs a word and at least one value");
      table_.dim = static_cast<int64_t>(fields_.size()) - 1;
    }
    const std::string_view word = fields_[0];
    if (const std::string why = detail::badWordReason(word); !why.empty()) throw DataError(where() + why);
    if (static_cast<int64_t>(fields_.size()) - 1 != table_.dim) {
      throw DataError(where() + "word \"" + std::string(word) + "\" has " + std::to_string(fields_.size() - 1) +
                      " values, expected " + std::to_string(table_.dim) +
                      (header_count_ ? " (the header's dimension)" : " (the first row's width)"));
    }
    ++rows_;
    const bool kept = !keep_ || keep_(word);
    const size_t base = table_.values.size();
    if (kept) table_.values.resize(base + static_cast<size_t>(table_.dim));
    for (int64_t j = 0; j < table_.dim; ++j) {
      const float v = parseValue(word, j);
      if (kept) table_.values[base + static_cast<size_t>(j)] = v;
    }
    if (!kept) return;
    auto [it, fresh] = first_line_.emplace(std::string(word), line_no_);
    if (!fresh) {
      throw DataError(where() + "duplicate word \"" + std::string(word) + "\" (first on line " +
                      std::to_string(it->second) + ")");
    }
    table_.words.emplace_back(word);
  }

  float parseValue(std::string_view word, int64_t j) const {
    std::string_view s = fields_[static_cast<size_t>(j) + 1];
    if (s.size() > 1 && s[0] == '+') s.remove_prefix(1);
    float v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v)) {
      throw DataError(where() + "value " + std::to_string(j + 1) + " of word \"" + std::string(word) + "\" is \"" +
                      std::string(fields_[static_cast<size_t>(j) + 1]) + "\", not a finite number");
    }
    return v;
  }

  const std::string& path_;
  const KeepWord& keep_;
  const ReadProgress& progress_;
  WordVectorTable table_;
  std::unordered_map<std::string, int64_t> first_line_;  // kept word -> line
  std::vector<std::string_view> fields_;
  std::optional<int64_t> header_count_;
  int64_t line_no_ = 0;
  int64_t rows_ = 0;
  uint64_t bytes_ = 0;
};

// Text vectors held in memory, found through a hash map.
class TableVectors final : public WordVectors {
 public:
  TableVectors(std::string path, WordVectorTable table) : path_(std::move(path)), table_(std::move(table)) {
    index_.reserve(table_.words.size());
    for (int64_t i = 0; i < table_.size(); ++i) index_.emplace(table_.words[static_cast<size_t>(i)], i);
  }
  int64_t dim() const override { return table_.dim; }
  int64_t size() const override { return table_.size(); }
  const std::string& path() const override { return path_; }
  bool lookup(std::string_view word, float* out) const override {
    auto it = index_.find(word);
    if (it == index_.end()) return false;
    std::memcpy(out, table_.row(it->second), static_cast<size_t>(table_.dim) * sizeof(float));
    return true;
  }

 private:
  std::string path_;
  WordVectorTable table_;
  std::unordered_map<std::string_view, int64_t> index_;  // views into table_.words, which never change
};

bool looksLikeJson(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char c = 0;
  while (in.get(c) && (c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
  }
  return in && c == '{';
}

}  // namespace

WordVectorTable readTextVectors(const std::string& path, const KeepWord& keep, const ReadProgress& progress) {
  return TextReader(path, keep, progress).read();
}

std::unique_ptr<WordVectors> openWordVectors(const std::string& path) {
  if (isBinaryVectors(path)) return detail::openBinaryVectors(path);
  if (looksLikeJson(path)) {
    throw DataError(path + ": a JSON file; convert it first: autoglm vectors import " + path + " OUT.agvec");
  }
  return std::make_unique<TableVectors>(path, readTextVectors(path));
}

VectorFileInfo inspectWordVectors(const std::string& path) {
  VectorFileInfo info;
  std::unique_ptr<WordVectors> v =
      isBinaryVectors(path) ? detail::openBinaryVectors(path, &info) : openWordVectors(path);
  info.dim = v->dim();
  info.count = v->size();
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  info.file_bytes = static_cast<uint64_t>(in.tellg());
  return info;
}

const char* dtypeName(VectorDtype dtype) { return dtype == VectorDtype::kBFloat16 ? "bf16" : "f32"; }

}  // namespace autoglm::core::text
