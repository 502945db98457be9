#pragma once
// Token vocabulary, built on the training split only and saved with the model.
//
// Ids 0..2 are reserved: <pad>, <unk> (tokens not in the vocabulary) and <doc>
// (the document context node). Regular tokens follow in order of decreasing
// count, ties broken alphabetically, so a build is deterministic.

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/yaml_config.h"

namespace autoglm::core::text {

struct VocabConfig {
  int64_t min_count = 1;   // tokens seen fewer times are <unk>
  int64_t max_size = 0;    // 0 = unlimited; includes the reserved ids

  template <class V>
  void visit(V& v) {
    v.field("min_count", min_count, check::atLeast<int64_t>(1));
    v.field("max_size", max_size, check::atLeast<int64_t>(0));
  }
};

class Vocab {
 public:
  static constexpr int64_t kPad = 0;
  static constexpr int64_t kUnk = 1;
  static constexpr int64_t kDoc = 2;
  static constexpr int64_t kNumReserved = 3;

  Vocab();
  static Vocab build(const std::vector<std::vector<std::string>>& docs, const VocabConfig& cfg);
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
