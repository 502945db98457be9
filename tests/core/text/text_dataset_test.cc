#include "core/text/text_dataset.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "tests/temp_dir_test.h"

namespace autoglm::core::text {
namespace {
namespace fs = std::filesystem;

class TextDatasetTest : public autoglm::testing::TempDirTest {};

TEST_F(TextDatasetTest, ReadsCrlfLatin1NoFinalNewlineAndTrainingSplit) {
  auto corpus = write("c.txt", "good movie\r\nbad caf\xe9 film\r\nso so");
  auto labels = write("l.txt", "a/1\ttraining\tpos\r\na/2\ttest\tneg\r\na/3\ttraining\tneg");
  TextDataset ds = TextDataset::load(corpus, labels);
  ASSERT_EQ(ds.size(), 3);
  EXPECT_EQ(ds.texts[1], "bad caf\xe9 film");
  EXPECT_EQ(ds.texts[2], "so so");
  EXPECT_EQ(ds.label_names, (std::vector<std::string>{"neg", "pos"}));
  EXPECT_EQ(ds.labels, (std::vector<int64_t>{1, 0, 0}));
  EXPECT_EQ(ds.indicesOf(Split::kTrain), (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(ds.indicesOf(Split::kTest), (std::vector<int64_t>{1}));
}

TEST_F(TextDatasetTest, MissingFileNamesThePath) {
  auto labels = write("l.txt", "0\ttrain\tx\n");
  try {
    TextDataset::load((dir_ / "nope.txt").string(), labels);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("nope.txt: file not found"), std::string::npos) << e.what();
  }
}

TEST_F(TextDatasetTest, EmptyDocumentIsAnErrorWithLineOrSkipped) {
  auto corpus = write("c.txt", "one doc\n  ,, \nthird doc\n");
  auto labels = write("l.txt", "0\ttrain\tx\n1\ttrain\ty\n2\ttest\tx\n");
  try {
    TextDataset::load(corpus, labels);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("c.txt:2: document 1 is empty"), std::string::npos) << e.what();
  }
  TextDatasetOptions skip;
  skip.empty_documents = EmptyDocuments::kSkip;
  TextDataset ds = TextDataset::load(corpus, labels, skip);
  EXPECT_EQ(ds.size(), 2);
  EXPECT_EQ(ds.source_line, (std::vector<int64_t>{1, 3}));
}

TEST_F(TextDatasetTest, BadLabelLinesNameFileAndLine) {
  auto corpus = write("c.txt", "a\nb\n");
  auto bad_split = write("l1.txt", "0\ttrain\tx\n1\tdev\ty\n");
  auto bad_format = write("l2.txt", "0\ttrain\tx\n1 train y\n");
  auto short_labels = write("l3.txt", "0\ttrain\tx\n");
  EXPECT_THROW(
      {
        try {
          TextDataset::load(corpus, bad_split);
        } catch (const DataError& e) {
          EXPECT_NE(std::string(e.what()).find("l1.txt:2: unknown split 'dev'"), std::string::npos) << e.what();
          throw;
        }
      },
      DataError);
  EXPECT_THROW(TextDataset::load(corpus, bad_format), DataError);
  EXPECT_THROW(TextDataset::load(corpus, short_labels), DataError);
}

TEST(BundledData, R8HasThePublishedCounts) {
  const std::string dir = AUTOGLM_TEST_DATA_DIR "/r8/";
  TextDataset ds = TextDataset::load(dir + "corpus.clean.txt", dir + "labels.txt");
  EXPECT_EQ(ds.size(), 7674);
  EXPECT_EQ(ds.indicesOf(Split::kTrain).size(), 5485u);
  EXPECT_EQ(ds.indicesOf(Split::kTest).size(), 2189u);
  EXPECT_EQ(ds.numClasses(), 8);
}

// The other text-classification sets, read from ../shared/data when it is there
// (CRLF and Latin-1 in MR, "training" and path ids in Ohsumed, no final newline in R52).
struct SharedSet {
  const char* dir;
  size_t train, test;
  int64_t classes;
};

class SharedDatasets : public ::testing::TestWithParam<SharedSet> {};

TEST_P(SharedDatasets, LoadWithPublishedCounts) {
  const SharedSet s = GetParam();
  const std::string dir = std::string(AUTOGLM_SHARED_DATA_DIR) + "/" + s.dir + "/";
  if (!fs::exists(dir + "labels.txt")) GTEST_SKIP() << dir << " not present (no ../shared beside the checkout)";
  for (const char* corpus : {"corpus.txt", "corpus.clean.txt"}) {
    TextDataset ds = TextDataset::load(dir + corpus, dir + "labels.txt");
    EXPECT_EQ(ds.indicesOf(Split::kTrain).size(), s.train) << corpus;
    EXPECT_EQ(ds.indicesOf(Split::kTest).size(), s.test) << corpus;
    EXPECT_EQ(ds.numClasses(), s.classes) << corpus;
  }
}

INSTANTIATE_TEST_SUITE_P(TextClassification, SharedDatasets,
                         ::testing::Values(SharedSet{"r52", 6532, 2568, 52}, SharedSet{"mr", 7108, 3554, 2},
                                           SharedSet{"ohsumed", 3357, 4043, 23}),
                         [](const auto& info) { return std::string(info.param.dir); });

}  // namespace
}  // namespace autoglm::core::text
