#include "core/text/tokenizer.h"

#include <gtest/gtest.h>

namespace autoglm::core::text {
namespace {

using V = std::vector<std::string>;

TEST(Tokenizer, SplitsOnPunctuationAndLowercases) {
  Tokenizer t;
  EXPECT_EQ(t.tokenize("Hello, World!  Oil-prices rose 3.5%"), (V{"hello", "world", "oil", "prices", "rose", "3", "5"}));
}

TEST(Tokenizer, KeepsInnerApostrophesAndHighBytes) {
  Tokenizer t;
  EXPECT_EQ(t.tokenize("it's 'quoted' caf\xe9"), (V{"it's", "quoted", "caf\xe9"}));
}

TEST(Tokenizer, TreatsCrAndTabsAsSeparators) {
  Tokenizer t;
  EXPECT_EQ(t.tokenize("a\tb\r\nc"), (V{"a", "b", "c"}));
  EXPECT_TRUE(t.tokenize("  ,;  \r").empty());
}

TEST(Tokenizer, HonoursOptions) {
  TokenizerConfig cfg;
  cfg.lowercase = false;
  cfg.min_token_length = 2;
  Tokenizer t(cfg);
  EXPECT_EQ(t.tokenize("A Bc d EF"), (V{"Bc", "EF"}));
}

}  // namespace
TEST(Tokenizer, SentenceEndsLeaveTheTokensAsTheyAre) {
  Tokenizer t;
  const std::string text = "The dog ran. It barked!\nU.S. oil rose 3.5 pct? yes";
  std::vector<int64_t> ends;
  const std::vector<std::string> tokens = t.tokenize(text, &ends);
  EXPECT_EQ(tokens, t.tokenize(text));
  // "the dog ran" | "it barked" | "u s" (an abbreviation before a space ends a sentence) |
  // "oil rose 3 5 pct" ("3.5" does not) | "yes"
  EXPECT_EQ(ends, (std::vector<int64_t>{3, 5, 7, 12, 13}));
  std::vector<int64_t> none;
  t.tokenize("no punctuation at all", &none);
  EXPECT_EQ(none, (std::vector<int64_t>{4}));
  t.tokenize("", &none);
  EXPECT_TRUE(none.empty());
}

}  // namespace autoglm::core::text
