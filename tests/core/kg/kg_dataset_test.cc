// The knowledge-graph layout as the benchmarks ship it (CRLF, zero-padded
// names, dictionaries in any id order) and the ids form, errors naming file
// and line, and the filter of known answers.

#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "core/kg/kg_dataset.h"
#include "tests/temp_dir_test.h"

namespace autoglm::core::kg {
namespace {

class KgDatasetTest : public testing::TempDirTest {
 protected:
  void writeNamesForm() {
    write("entities.dict", "2\t00000300\r\n0\t00260881\r\n1\t00260622\r\n");
    write("relations.dict", "0\t_hypernym\n1\t_also_see\n");
    write("train.txt", "00260881\t_hypernym\t00260622\r\n00260622\t_also_see\t00000300\r\n\r\n");
    write("valid.txt", "00000300\t_hypernym\t00260881");  // no final newline
  }
  std::string dir() const { return dir_.string(); }
};

TEST_F(KgDatasetTest, ReadsNamesFormWithCrlfAndZeroPaddedNames) {
  writeNamesForm();
  const KgDataset d = KgDataset::load(dir());
  EXPECT_EQ(d.numEntities(), 3);
  EXPECT_EQ(d.numRelations(), 2);
  ASSERT_EQ(d.train().size(), 2u);
  EXPECT_EQ(d.train()[0], (Triple{0, 0, 1}));
  EXPECT_EQ(d.train()[1], (Triple{1, 1, 2}));
  ASSERT_EQ(d.valid().size(), 1u);
  EXPECT_EQ(d.valid()[0], (Triple{2, 0, 0}));
  EXPECT_TRUE(d.test().empty());  // test.txt absent
  EXPECT_EQ(d.entityName(2), "00000300");
  EXPECT_EQ(d.entityId("00260622"), 1);
  EXPECT_FALSE(d.entityId("260622").has_value());  // names are strings: the zeros matter
  EXPECT_EQ(d.relationId("_also_see"), 1);
}

TEST_F(KgDatasetTest, UnknownNameIsAnErrorNamingFileAndLine) {
  writeNamesForm();
  write("test.txt", "00260881\t_hypernym\t00260622\n00260881\t_hyponym\t00260622\n");
  try {
    KgDataset::load(dir());
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("test.txt:2"), std::string::npos) << m;
    EXPECT_NE(m.find("relation \"_hyponym\""), std::string::npos) << m;
  }
}

TEST_F(KgDatasetTest, BadDictionariesAndFieldCounts) {
  writeNamesForm();
  write("entities.dict", "0\ta\n0\tb\n");
  EXPECT_THROW(KgDataset::load(dir()), DataError);  // id 0 twice, id 1 missing
  write("entities.dict", "0\ta\n2\tb\n");
  try {
    KgDataset::load(dir());
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("out of range"), std::string::npos) << e.what();
  }
  writeNamesForm();
  write("train.txt", "00260881\t_hypernym\n");
  try {
    KgDataset::load(dir());
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("train.txt:1: expected"), std::string::npos) << e.what();
  }
  EXPECT_THROW(KgDataset::load(path("missing")), DataError);
}

TEST_F(KgDatasetTest, ReadsIdsForm) {
  write("kg.json", R"({"format": "autoglm-kg-ids", "version": 1, "entities": 5, "relations": 2})");
  write("train.txt", "0\t1\t4\n3\t0\t2\n");
  write("test.txt", "4\t1\t0\n");
  const KgDataset d = KgDataset::load(dir());
  EXPECT_TRUE(d.idsForm());
  EXPECT_EQ(d.numEntities(), 5);
  EXPECT_EQ(d.train()[1], (Triple{3, 0, 2}));
  EXPECT_EQ(d.entityName(4), "4");
  EXPECT_EQ(d.entityId("4"), 4);
  EXPECT_FALSE(d.entityId("5").has_value());
  write("valid.txt", "0\t2\t1\n");
  try {
    KgDataset::load(dir());
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("valid.txt:1: relation \"2\""), std::string::npos) << e.what();
  }
}

TEST(FilterIndexTest, TailsOfHeadQueriesAndHeadsOfReciprocalQueries) {
  const std::vector<Triple> train = {{0, 0, 1}, {0, 0, 2}, {3, 1, 1}};
  const std::vector<Triple> test = {{0, 0, 2}, {4, 0, 1}};
  const FilterIndex f(2, {&train, &test});
  auto list = [&](int64_t a, int64_t r) {
    const auto [lo, hi] = f.answers(a, r);
    return std::vector<int64_t>(lo, hi);
  };
  EXPECT_EQ(list(0, 0), (std::vector<int64_t>{1, 2}));  // duplicates across splits once
  EXPECT_EQ(list(1, 2), (std::vector<int64_t>{0, 4}));  // heads of (?, 0, 1): reciprocal relation 0 + 2
  EXPECT_EQ(list(1, 3), (std::vector<int64_t>{3}));
  EXPECT_TRUE(list(2, 0).empty());
}

}  // namespace
}  // namespace autoglm::core::kg
