// UTF-8 validation: the forms RFC 3629 allows pass, the others are found at
// the byte where they start.

#include "launch/serve/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace autoglm::launch::serve {
namespace {

TEST(Utf8, WellFormedTextsPass) {
  for (const std::string& text : {std::string(), std::string("plain ascii"), std::string("caf\xC3\xA9"),
                                 std::string("\xE2\x82\xAC 5"), std::string("\xF0\x9F\x98\x80"),
                                 std::string("\xED\x9F\xBF"), std::string("\xF4\x8F\xBF\xBF"),
                                 std::string("nul \0 inside", 12)}) {
    EXPECT_EQ(firstInvalidUtf8(text), std::nullopt) << text;
  }
}

struct BadCase {
  std::string text;
  size_t at;
  const char* what;
};

TEST(Utf8, IllFormedBytesAreFoundWhereTheyStart) {
  const BadCase cases[] = {
      {"abc\xFF", 3, "0xFF never appears"},
      {"\x80rest", 0, "a lone continuation byte"},
      {"ab\xC3", 2, "a sequence cut at the end"},
      {"ab\xC3x", 2, "a lead byte without its continuation"},
      {"\xC0\xAF", 0, "overlong two-byte form of '/'"},
      {"x\xE0\x80\xAF", 1, "overlong three-byte form"},
      {"\xF0\x80\x80\xAF", 0, "overlong four-byte form"},
      {"hello\xED\xA0\x80", 5, "a UTF-16 surrogate"},
      {"\xF4\x90\x80\x80", 0, "above U+10FFFF"},
      {"\xF5\x80\x80\x80", 0, "lead byte F5"},
      {"ok \xE2\x82", 3, "three-byte sequence missing its last byte"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(firstInvalidUtf8(c.text), std::optional<size_t>(c.at)) << c.what;
  }
}

TEST(Utf8, SequenceLengthOfEachForm) {
  EXPECT_EQ(utf8SequenceLength("a", 0), 1u);
  EXPECT_EQ(utf8SequenceLength("\xC3\xA9", 0), 2u);
  EXPECT_EQ(utf8SequenceLength("\xE2\x82\xAC", 0), 3u);
  EXPECT_EQ(utf8SequenceLength("\xF0\x9F\x98\x80", 0), 4u);
  EXPECT_EQ(utf8SequenceLength("\xF0\x9F\x98", 0), 0u);
  EXPECT_EQ(utf8SequenceLength("x\xA9", 1), 0u);
}

}  // namespace
}  // namespace autoglm::launch::serve
