#include "core/text/tokenizer.h"

namespace autoglm::core::text {
namespace {
inline bool isTokenByte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '\'' || c >= 0x80;
}
}  // namespace

std::vector<std::string> Tokenizer::tokenize(std::string_view text) const {
  std::vector<std::string> out;
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
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (isTokenByte(c)) {
      if (cfg_.lowercase && c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c - 'A' + 'a');
      cur.push_back(static_cast<char>(c));
    } else if (!cur.empty()) {
      flush();
    }
  }
  if (!cur.empty()) flush();
  return out;
}

}  // namespace autoglm::core::text
