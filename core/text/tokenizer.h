#pragma once
// Splits raw text into tokens.
//
// Rules: ASCII letters are lower-cased (when configured); a token is a maximal
// run of ASCII letters, digits, apostrophes or bytes >= 0x80 (so Latin-1 and
// UTF-8 text keeps its accented words whole); everything else separates tokens.
// CR, TAB and other control bytes are separators.

#include <string>
#include <string_view>
#include <vector>

#include "core/yaml_config.h"

namespace autoglm::core::text {

struct TokenizerConfig {
  bool lowercase = true;
  int64_t min_token_length = 1;

  template <class V>
  void visit(V& v) {
    v.field("lowercase", lowercase);
    v.field("min_token_length", min_token_length, check::atLeast<int64_t>(1));
  }
};

class Tokenizer {
 public:
  explicit Tokenizer(TokenizerConfig cfg = {}) : cfg_(cfg) {}
  std::vector<std::string> tokenize(std::string_view text) const;
  // The same tokens, and where sentences end: sentence_ends receives the
  // exclusive end (a token count) of every sentence, a sentence closing at '.',
  // '!' or '?' followed by white space or the end, or at a line break. Text
  // without such punctuation (R8's) is one sentence.
  std::vector<std::string> tokenize(std::string_view text, std::vector<int64_t>* sentence_ends) const;

 private:
  TokenizerConfig cfg_;
};

}  // namespace autoglm::core::text
