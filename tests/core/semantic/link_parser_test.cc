#include "core/semantic/link_parser.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"

namespace autoglm::core::semantic {
namespace {

using Doc = std::vector<std::vector<std::string>>;

std::vector<std::string> words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// 60 words of running text without sentence boundaries.
const char* kSixtyWords =
    "the company said on monday that it would cut its workforce by ten percent as sales "
    "fell in the third quarter while analysts expected a modest recovery next year the "
    "chief executive told reporters that the board had approved a plan to sell two "
    "factories and to invest the money in new products for customers in asia and "
    "next spring";

// Whether links has a link between a and b whose type starts with prefix.
bool hasLink(const std::vector<SyntaxLink>& links, int32_t a, int32_t b, const std::string& prefix) {
  for (const auto& l : links) {
    if (l.left == a && l.right == b && l.type.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

bool sameLinks(const std::vector<SyntaxLink>& x, const std::vector<SyntaxLink>& y) {
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i].left != y[i].left || x[i].right != y[i].right || x[i].type != y[i].type) return false;
  }
  return true;
}

class LinkParserTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { parser_ = std::make_unique<LinkParser>(ParseOptions{}); }
  static void TearDownTestSuite() { parser_.reset(); }
  static std::unique_ptr<LinkParser> parser_;
};
std::unique_ptr<LinkParser> LinkParserTest::parser_;

TEST_F(LinkParserTest, SubjectObjectAndDeterminerLinks) {
  ParseStats stats;
  auto links = parser_->parse({words("the dog chased the cat")}, &stats);
  EXPECT_TRUE(hasLink(links, 1, 2, "S"));  // dog - chased
  EXPECT_TRUE(hasLink(links, 2, 4, "O"));  // chased - cat
  EXPECT_TRUE(hasLink(links, 0, 1, "D"));  // the - dog
  EXPECT_TRUE(hasLink(links, 3, 4, "D"));  // the - cat
  EXPECT_EQ(links.size(), 4u);             // the wall links are gone
  for (const auto& l : links) {
    EXPECT_LT(l.left, l.right);
    EXPECT_GE(l.left, 0);
    EXPECT_LT(l.right, 5);
  }
  EXPECT_EQ(stats.windows, 1);
  EXPECT_EQ(stats.linked, 1);
  EXPECT_EQ(stats.unparsed, 0);
}

TEST_F(LinkParserTest, SecondSentenceIsOffsetByTheFirst) {
  auto one = parser_->parse({words("the dog chased the cat")});
  auto two = parser_->parse({words("the dog chased the cat"), words("the dog chased the cat")});
  ASSERT_EQ(two.size(), 2 * one.size());
  for (size_t i = 0; i < one.size(); ++i) {
    EXPECT_EQ(two[i].left, one[i].left);
    EXPECT_EQ(two[one.size() + i].left, one[i].left + 5);
    EXPECT_EQ(two[one.size() + i].right, one[i].right + 5);
    EXPECT_EQ(two[one.size() + i].type, one[i].type);
  }
  EXPECT_TRUE(hasLink(two, 6, 7, "S"));
  EXPECT_TRUE(hasLink(two, 7, 9, "O"));
}

TEST_F(LinkParserTest, WordsThatSanitiseToNothingKeepTheirPosition) {
  // Position 1 is a control character only: dropped, but "dog" stays at 2.
  auto links = parser_->parse({{"the", "\x01\x02", "dog", "chased", "the", "cat"}});
  EXPECT_TRUE(hasLink(links, 0, 2, "D"));
  EXPECT_TRUE(hasLink(links, 2, 3, "S"));
  EXPECT_TRUE(hasLink(links, 3, 5, "O"));
  for (const auto& l : links) EXPECT_TRUE(l.left != 1 && l.right != 1);
}

TEST_F(LinkParserTest, MorphemesMapToTheirInputWord) {
  // Link Grammar splits "dog's" into dog + 's; both are input word 1.
  auto links = parser_->parse({words("the dog's owner chased the cat")});
  EXPECT_TRUE(hasLink(links, 0, 1, "D"));
  EXPECT_TRUE(hasLink(links, 1, 2, "D"));  // 's - owner
  EXPECT_TRUE(hasLink(links, 2, 3, "S"));
  EXPECT_TRUE(hasLink(links, 3, 5, "O"));
  for (const auto& l : links) EXPECT_LT(l.left, l.right);
}

TEST_F(LinkParserTest, UnsegmentedTextIsParsedWindowByWindow) {
  const auto text = words(kSixtyWords);
  ASSERT_EQ(text.size(), 60u);
  ParseStats stats;
  auto links = parser_->parse({text}, &stats);
  EXPECT_EQ(stats.windows, 3);
  EXPECT_EQ(stats.linked + stats.unparsed, 3);
  std::vector<int> per_window(3, 0);
  for (const auto& l : links) {
    ASSERT_LT(l.left, l.right);
    ASSERT_LT(l.right, 60);
    EXPECT_EQ(l.left / 24, l.right / 24) << l.left << "-" << l.right << " " << l.type;
    ++per_window[static_cast<size_t>(l.left / 24)];
  }
  for (int w = 0; w < 3; ++w) EXPECT_GT(per_window[static_cast<size_t>(w)], 0) << "window " << w;
}

TEST_F(LinkParserTest, EmptyInputGivesNothing) {
  ParseStats stats;
  EXPECT_TRUE(parser_->parse({}, &stats).empty());
  EXPECT_TRUE(parser_->parse({{}}, &stats).empty());
  EXPECT_TRUE(parser_->parse({{}, {}, {""}}, &stats).empty());
  EXPECT_EQ(stats.windows, 1);  // the one window holding "", nothing to parse
  EXPECT_EQ(stats.unparsed, 1);
}

TEST_F(LinkParserTest, NonAsciiAndInvalidUtf8DoNotThrow) {
  ParseStats stats;
  std::vector<SyntaxLink> links;
  ASSERT_NO_THROW(links = parser_->parse(
                      {{"the", "caf\xe9", "was", "na\xc3\xafve", "\xff\xfe", "\xc3", "and", "ok"},
                       {"\xed\xa0\x80", "the", "dog", "ran", "\xf0\x9f\x98\x80"}},
                      &stats));
  EXPECT_EQ(stats.windows, 2);
  for (const auto& l : links) {
    EXPECT_LT(l.left, l.right);
    EXPECT_LT(l.right, 13);
  }
}

TEST_F(LinkParserTest, TenThousandWordsFinish) {
  const auto base = words(kSixtyWords);
  std::vector<std::string> text;
  while (text.size() < 10000) text.push_back(base[text.size() % base.size()]);
  ParseStats stats;
  const auto t0 = std::chrono::steady_clock::now();
  auto links = parser_->parse({text}, &stats);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(stats.windows, (10000 + 23) / 24);
  EXPECT_EQ(stats.linked + stats.unparsed, stats.windows);
  EXPECT_GT(stats.linked, 0);
  for (const auto& l : links) ASSERT_EQ(l.left / 24, l.right / 24);
  std::cout << "[ measure  ] 10000 words: " << secs << " s, " << links.size() << " links, "
            << stats.timed_out << " windows timed out\n";
}

TEST(LinkParser, ZeroTimeLimitCountsTimeoutsWithoutThrowing) {
  ParseOptions opts;
  opts.seconds_per_window = 0.0;
  LinkParser parser(opts);
  ParseStats stats;
  ASSERT_NO_THROW(parser.parse({words(kSixtyWords)}, &stats));
  EXPECT_EQ(stats.windows, 3);
  EXPECT_EQ(stats.linked + stats.unparsed, 3);
  EXPECT_GT(stats.timed_out, 0);
}

TEST(LinkParser, InvalidOptionsAreConfigErrors) {
  ParseOptions w;
  w.window_words = 0;
  EXPECT_THROW(LinkParser{w}, ConfigError);
  ParseOptions t;
  t.seconds_per_window = -1;
  EXPECT_THROW(LinkParser{t}, ConfigError);
  ParseOptions n;
  n.max_null_links = -1;
  EXPECT_THROW(LinkParser{n}, ConfigError);
}

TEST_F(LinkParserTest, ThreadsGiveTheSameLinksAsOneThread) {
  const Doc doc{words(kSixtyWords), words("the dog chased the cat"), words("the dog's owner ran")};
  const auto expected = parser_->parse(doc);
  ASSERT_FALSE(expected.empty());
  constexpr int kThreads = 4;
  std::vector<std::vector<SyntaxLink>> got(kThreads * 3);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < 3; ++r) got[static_cast<size_t>(t * 3 + r)] = parser_->parse(doc);
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& g : got) EXPECT_TRUE(sameLinks(g, expected));
}

}  // namespace
}  // namespace autoglm::core::semantic
