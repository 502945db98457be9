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
}  // namespace autoglm::core::text
