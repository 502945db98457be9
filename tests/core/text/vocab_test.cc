#include "core/text/vocab.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace autoglm::core::text {
namespace {

TEST(Vocab, OrdersByCountThenAlphabetAndAppliesMinCount) {
  std::vector<std::vector<std::string>> docs{{"b", "a", "c", "b"}, {"a", "b", "d"}};
  VocabConfig cfg;
  cfg.min_count = 2;
  Vocab v = Vocab::build(docs, cfg);
  ASSERT_EQ(v.size(), Vocab::kNumReserved + 2);
  EXPECT_EQ(v.token(3), "b");  // count 3
  EXPECT_EQ(v.token(4), "a");  // count 2
  EXPECT_EQ(v.id("c"), Vocab::kUnk);
  EXPECT_EQ(v.id("never-seen"), Vocab::kUnk);
  EXPECT_EQ(v.encode({"a", "zzz", "b"}), (std::vector<int64_t>{4, Vocab::kUnk, 3}));
}

TEST(Vocab, MaxSizeCountsReservedIds) {
  std::vector<std::vector<std::string>> docs{{"x", "y", "z", "x", "y", "x"}};
  VocabConfig cfg;
  cfg.max_size = 5;
  Vocab v = Vocab::build(docs, cfg);
  EXPECT_EQ(v.size(), 5);
  EXPECT_EQ(v.id("x"), 3);
  EXPECT_EQ(v.id("y"), 4);
  EXPECT_EQ(v.id("z"), Vocab::kUnk);
}

TEST(Vocab, WordsWithVectorsAreKeptBelowMinCountAndFromOtherSplits) {
  std::vector<std::vector<std::string>> train{{"b", "a", "c", "b"}, {"a", "b", "d"}};
  std::vector<std::vector<std::string>> test{{"e", "a", "zz", "f"}, {"e"}};
  VocabConfig cfg;
  cfg.min_count = 2;
  auto has = [](const std::string& w) { return w == "c" || w == "e" || w == "f" || w == "a"; };
  Vocab v = Vocab::build(train, cfg, has, test);
  // b (3), a (2), then c (1, has a vector; d has none), then e, f from the test documents.
  ASSERT_EQ(v.size(), Vocab::kNumReserved + 5);
  EXPECT_EQ(v.token(3), "b");
  EXPECT_EQ(v.token(4), "a");
  EXPECT_EQ(v.token(5), "c");
  EXPECT_EQ(v.token(6), "e");
  EXPECT_EQ(v.token(7), "f");
  EXPECT_EQ(v.id("d"), Vocab::kUnk);
  EXPECT_EQ(v.id("zz"), Vocab::kUnk);
  // Without the other documents (vector_words: train) only c is added.
  EXPECT_EQ(Vocab::build(train, cfg, has).size(), Vocab::kNumReserved + 3);
  cfg.max_size = Vocab::kNumReserved + 4;
  EXPECT_EQ(Vocab::build(train, cfg, has, test).id("f"), Vocab::kUnk);
}

TEST(Vocab, SaveLoadRoundTripAndRejectsForeignFile) {
  Vocab v = Vocab::build({{"alpha", "beta", "beta"}}, {});
  auto dir = std::filesystem::temp_directory_path() / "autoglm_vocab_test";
  std::filesystem::create_directories(dir);
  v.save((dir / "vocab.txt").string());
  Vocab w = Vocab::load((dir / "vocab.txt").string());
  EXPECT_EQ(w.tokens(), v.tokens());
  EXPECT_EQ(w.fingerprint(), v.fingerprint());
  {
    std::ofstream bad(dir / "bad.txt");
    bad << "hello\nworld\n";
  }
  EXPECT_THROW(Vocab::load((dir / "bad.txt").string()), DataError);
  EXPECT_THROW(Vocab::load((dir / "missing.txt").string()), DataError);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace autoglm::core::text
