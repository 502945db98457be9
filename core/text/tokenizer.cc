#include "core/text/tokenizer.h"

namespace autoglm::core::text {
namespace {
inline bool isTokenByte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '\'' || c >= 0x80;
}
}  // namespace

std::vector<std::string> Tokenizer::tokenize(std::string_view text) const { return tokenize(text, nullptr); }

std::vector<std::string> Tokenizer::tokenize(std::string_view text, std::vector<int64_t>* sentence_ends) const {
  std::vector<std::string> out;
  if (sentence_ends != nullptr) sentence_ends->clear();
  std::string cur;
  auto flush = [&] {
    // Strip apostrophes at the edges ("'quoted'" -> "quoted").
    size_t b = 0, e = cur.size();
    while (b < e && cur[b] == '\'') ++b;
    while (e > b && cur[e - 1] == '\'') --e;
    if (static_cast<int64_t>(e - b) >= cfg_.min_token_length && e > b) {
      out.emplace_back(cur.substr(b, e - b));
    }
    cur.clear();
  };
  auto endSentence = [&] {
    const auto n = static_cast<int64_t>(out.size());
    if (sentence_ends != nullptr && n > 0 && (sentence_ends->empty() || sentence_ends->back() < n)) {
      sentence_ends->push_back(n);
    }
  };
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (isTokenByte(c)) {
      if (cfg_.lowercase && c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c - 'A' + 'a');
      cur.push_back(static_cast<char>(c));
      continue;
    }
    if (!cur.empty()) flush();
    const bool at_gap = i + 1 == text.size() || text[i + 1] == ' ' || text[i + 1] == '\t' || text[i + 1] == '\n';
    if (c == '\n' || ((c == '.' || c == '!' || c == '?') && at_gap)) endSentence();
  }
  if (!cur.empty()) flush();
  endSentence();  // the last sentence, punctuated or not
  return out;
}

}  // namespace autoglm::core::text
