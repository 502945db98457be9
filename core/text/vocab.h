#pragma once
// Token vocabulary, built on the training split only and saved with the model.
//
// Ids 0..2 are reserved: <pad>, <unk> (tokens not in the vocabulary) and <doc>
// (the document context node). Regular tokens follow in order of decreasing
// count, ties broken alphabetically, so a build is deterministic.

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/yaml_config.h"

namespace autoglm::core::text {

// Which words a vectors file adds to the vocabulary (VocabConfig::vectors).
enum class VectorWords { kTrain, kAll };
constexpr std::array<EnumName<VectorWords>, 2> enumNames(VectorWords) {
  return {{{VectorWords::kTrain, "train"}, {VectorWords::kAll, "all"}}};
}

struct VocabConfig {
  int64_t min_count = 1;   // tokens seen fewer times are <unk>
  int64_t max_size = 0;    // 0 = unlimited; includes the reserved ids
  // Pretrained vectors (core/text/word_vectors.h), "" = none. A training word
  // with a vector is kept whatever its count; with vector_words: all, so is a
  // word that only the validation or test documents hold (their text is read,
  // never their labels), so that a word first seen at test time gets the
  // file's vector instead of <unk>, as in TextING's inductive setting. Such a
  // row is never trained (no training graph looks it up).
  std::string vectors;
  VectorWords vector_words = VectorWords::kAll;

  template <class V>
  void visit(V& v) {
    v.field("min_count", min_count, check::atLeast<int64_t>(1));
    v.field("max_size", max_size, check::atLeast<int64_t>(0));
    v.field("vectors", vectors);
    v.field("vector_words", vector_words);
  }
};

class Vocab {
 public:
  static constexpr int64_t kPad = 0;
  static constexpr int64_t kUnk = 1;
  static constexpr int64_t kDoc = 2;
  static constexpr int64_t kNumReserved = 3;

  Vocab();
  // From the training documents: tokens seen min_count times, most frequent
  // first. With has_vector: also training tokens below min_count that have a
  // vector, and then (alphabetically, after every training token) the tokens
  // of other_docs that have a vector and no training occurrence.
  using HasVector = std::function<bool(const std::string&)>;
  static Vocab build(const std::vector<std::vector<std::string>>& docs, const VocabConfig& cfg,
                     const HasVector& has_vector = {},
                     const std::vector<std::vector<std::string>>& other_docs = {});
  static Vocab fromTokens(std::vector<std::string> tokens);  // tokens[i] has id i

  int64_t id(std::string_view token) const;  // kUnk when absent
  const std::string& token(int64_t id) const;
  int64_t size() const { return static_cast<int64_t>(tokens_.size()); }
  const std::vector<std::string>& tokens() const { return tokens_; }
  std::vector<int64_t> encode(const std::vector<std::string>& tokens) const;

  // One token per line, id = line number.
  void save(const std::string& path) const;
  static Vocab load(const std::string& path);
  uint64_t fingerprint() const;

 private:
  void assign(std::vector<std::string> tokens);
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int64_t> index_;
};

}  // namespace autoglm::core::text
