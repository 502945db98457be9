// core/kg/kg_writer: both layouts byte for byte reproducible, their contents,
// the refusal of a non-empty directory and --overwrite across forms.

#include "core/kg/kg_writer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <set>
#include <string>

#include "core/error.h"
#include "core/file_io.h"
#include "core/hash.h"
#include "tests/temp_dir_test.h"

namespace autoglm::core::kg {
namespace {

namespace fs = std::filesystem;
using KgWriterTest = autoglm::testing::TempDirTest;

KgGeneratorOptions options(uint64_t seed) {
  KgGeneratorOptions o;
  o.entities = 500;
  o.relations = 7;
  o.triples_per_entity = 3;
  o.clusters = 10;
  o.max_degree = 100;
  o.valid_fraction = 0.05;
  o.test_fraction = 0.05;
  o.seed = seed;
  return o;
}

std::string read(const fs::path& p) { return readFileBytes(p.string()).value_or("<missing>"); }

std::set<std::string> names(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

TEST_F(KgWriterTest, IdsFormIsReproducibleAndReadable) {
  const KnowledgeGraph kg = generateKnowledgeGraph(options(1));
  const uint64_t bytes = writeKnowledgeGraph(kg, path("a"), {});
  writeKnowledgeGraph(generateKnowledgeGraph(options(1)), path("b"), {});
  writeKnowledgeGraph(generateKnowledgeGraph(options(2)), path("c"), {});
  EXPECT_EQ(names(dir_ / "a"), (std::set<std::string>{"kg.json", "test.txt", "train.txt", "valid.txt"}));
  uint64_t total = 0;
  for (const char* f : {"kg.json", "train.txt", "valid.txt", "test.txt"}) {
    EXPECT_EQ(read(dir_ / "a" / f), read(dir_ / "b" / f)) << f;
    total += fs::file_size(dir_ / "a" / f);
  }
  EXPECT_EQ(bytes, total);
  EXPECT_NE(read(dir_ / "a" / "train.txt"), read(dir_ / "c" / "train.txt"));
  const auto j = nlohmann::json::parse(read(dir_ / "a" / "kg.json"));
  EXPECT_EQ(j["format"], "autoglm-kg-ids");
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["entities"], 500);
  EXPECT_EQ(j["relations"], 7);
  EXPECT_EQ(j["generator"]["seed"], 1);
  EXPECT_EQ(j["generator"]["degree"], "zipf");
  EXPECT_EQ(j["generator"]["max_degree"], 100);
  EXPECT_DOUBLE_EQ(j["generator"]["noise"].get<double>(), 0.1);
  const std::vector<std::string> lines = splitLines(read(dir_ / "a" / "valid.txt"));
  ASSERT_EQ(lines.size(), kg.valid.size());
  const Triple& t = kg.valid[0];
  EXPECT_EQ(lines[0], std::to_string(t.head) + "\t" + std::to_string(t.relation) + "\t" + std::to_string(t.tail));
}

TEST_F(KgWriterTest, NamesFormHasDictsInIdOrder) {
  const KnowledgeGraph kg = generateKnowledgeGraph(options(1));
  writeKnowledgeGraph(kg, path("n"), {KgForm::kNames, false});
  EXPECT_EQ(names(dir_ / "n"),
            (std::set<std::string>{"entities.dict", "relations.dict", "test.txt", "train.txt", "valid.txt"}));
  const std::vector<std::string> entities = splitLines(read(dir_ / "n" / "entities.dict"));
  ASSERT_EQ(entities.size(), 500u);
  EXPECT_EQ(entities[0], "0\te0");
  EXPECT_EQ(entities[499], "499\te499");
  EXPECT_EQ(read(dir_ / "n" / "relations.dict"), "0\tr0\n1\tr1\n2\tr2\n3\tr3\n4\tr4\n5\tr5\n6\tr6\n");
  const std::vector<std::string> train = splitLines(read(dir_ / "n" / "train.txt"));
  ASSERT_EQ(train.size(), kg.train.size());
  const Triple& t = kg.train.back();
  EXPECT_EQ(train.back(), "e" + std::to_string(t.head) + "\tr" + std::to_string(t.relation) + "\te" +
                              std::to_string(t.tail));
}

TEST_F(KgWriterTest, NonEmptyDirectoryNeedsOverwriteWhichRemovesTheOtherForm) {
  const KnowledgeGraph kg = generateKnowledgeGraph(options(1));
  writeKnowledgeGraph(kg, path("d"), {KgForm::kNames, false});
  EXPECT_THROW(writeKnowledgeGraph(kg, path("d"), {}), ConfigError);
  writeKnowledgeGraph(kg, path("d"), {KgForm::kIds, true});
  EXPECT_EQ(names(dir_ / "d"), (std::set<std::string>{"kg.json", "test.txt", "train.txt", "valid.txt"}));
  write("file", "x");
  EXPECT_THROW(writeKnowledgeGraph(kg, path("file"), {KgForm::kIds, true}), ConfigError);
}

TEST_F(KgWriterTest, UnwritableDirectoryNamesTheFileAndLeavesNoTemporary) {
  const KnowledgeGraph kg = generateKnowledgeGraph(options(1));
  fs::create_directories(dir_ / "ro");
  fs::create_directories(dir_ / "ro" / "train.txt");  // a folder where the file goes: the rename fails
  try {
    writeKnowledgeGraph(kg, path("ro"), {KgForm::kIds, true});
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(path("ro/train.txt")), std::string::npos) << e.what();
  }
  EXPECT_EQ(names(dir_ / "ro"), (std::set<std::string>{"train.txt"}));
}

// The bytes of a small graph, fixed: a change of them (another platform, or a
// change of the generator) shows here. Update only for a deliberate change.
TEST_F(KgWriterTest, GoldenChecksum) {
  writeKnowledgeGraph(generateKnowledgeGraph(options(1)), path("g"), {});
  Fnv1a h;
  for (const char* f : {"kg.json", "train.txt", "valid.txt", "test.txt"}) h.add(read(dir_ / "g" / f));
  EXPECT_EQ(hex64(h.value()), "5b3c4c635fb2ed3b");
}

}  // namespace
}  // namespace autoglm::core::kg
