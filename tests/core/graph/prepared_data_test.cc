// Preparation of a dataset into the graph cache: built once, reused, keyed by
// the settings, errors naming the file or key.

#include "core/graph/prepared_data.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/graph/graph_types.h"

namespace autoglm::core::graph {
namespace {
namespace fs = std::filesystem;

class Dataset {
 public:
  Dataset() : dir_(fs::temp_directory_path() / ("autoglm_prep_" + std::to_string(::getpid()))) {
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "data");
    std::ofstream(dir_ / "data" / "corpus.txt") << "oil prices rise\ngrain exports fall\noil output cut\nzebra oil\n";
    std::ofstream(dir_ / "data" / "labels.txt") << "0\ttrain\tcrude\n1\ttrain\tgrain\n2\ttrain\tcrude\n3\ttest\tcrude\n";
    data.dir = (dir_ / "data").string();
    data.corpus = "corpus.txt";
    data.cache_dir = (dir_ / "cache").string();
  }
  ~Dataset() { fs::remove_all(dir_); }
  PreparedData load(bool force = false) const { return loadOrPrepare(data, tokenizer, vocab, graph, force); }

  DataConfig data;
  text::TokenizerConfig tokenizer;
  text::VocabConfig vocab;
  GraphConfig graph;

 private:
  fs::path dir_;
};

TEST(PreparedData, BuildsOnceThenOpensTheCache) {
  Dataset ds;
  const PreparedData first = ds.load();
  EXPECT_TRUE(first.built_now);
  EXPECT_EQ(first.store.size(), 4);
  EXPECT_EQ(first.label_names, (std::vector<std::string>{"crude", "grain"}));
  EXPECT_EQ(first.indicesOf(text::Split::kTest), std::vector<int64_t>{3});
  // The vocabulary comes from the training split: "zebra" (test only) is unknown.
  EXPECT_EQ(first.vocab.id("zebra"), text::Vocab::kUnk);
  EXPECT_NE(first.vocab.id("oil"), text::Vocab::kUnk);
  const PreparedData again = ds.load();
  EXPECT_FALSE(again.built_now);
  EXPECT_EQ(again.cache_path, first.cache_path);
  EXPECT_TRUE(ds.load(/*force=*/true).built_now);
}

TEST(PreparedData, EverySettingThatChangesTheGraphsChangesTheCache) {
  Dataset ds;
  const std::string base = ds.load().cache_path;
  ds.graph.window = 2;
  const std::string window = ds.load().cache_path;
  ds.tokenizer.min_token_length = 4;
  const std::string tokens = ds.load().cache_path;
  ds.vocab.min_count = 2;
  const std::string vocab = ds.load().cache_path;
  EXPECT_NE(base, window);
  EXPECT_NE(window, tokens);
  EXPECT_NE(tokens, vocab);
  ds.data.val_fraction = 0.5;  // splits train/validation later: the graphs are the same
  EXPECT_EQ(ds.load().cache_path, vocab);
}

TEST(PreparedData, MissingInputNamesTheKey) {
  Dataset ds;
  ds.data.labels = "nope.txt";
  try {
    ds.load();
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("nope.txt: file not found (data.labels)"), std::string::npos) << e.what();
  }
  ds.data.dir = "/no/such/dir";
  try {
    ds.load();
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("data.dir=/no/such/dir: directory not found"), std::string::npos)
        << e.what();
  }
}

TEST(PreparedData, ValidationSplitIsSeededAndDisjoint) {
  std::vector<int64_t> train{0, 2, 4, 6, 8, 10, 12, 14, 16, 18}, a, va, b, vb;
  splitValidation(train, 0.3, 7, &a, &va);
  splitValidation(train, 0.3, 7, &b, &vb);
  EXPECT_EQ(a, b);
  EXPECT_EQ(va, vb);
  EXPECT_EQ(va.size(), 3u);
  EXPECT_EQ(a.size() + va.size(), train.size());
  for (int64_t v : va) EXPECT_EQ(std::count(a.begin(), a.end(), v), 0);
}

TEST(PreparedData, SemanticGraphsKeepTheirTypesAndConceptsInTheCache) {
  Dataset ds;
  const std::string plain = ds.load().cache_path;
  ds.graph.builder = BuilderKind::kSemantic;
  const PreparedData p = ds.load();
  EXPECT_TRUE(p.built_now);
  EXPECT_NE(p.cache_path, plain);
  // Concepts the training words share are "wn:" tokens after the words; graphs have concept
  // nodes exactly when there are such tokens.
  int64_t concepts = 0;
  for (const auto& t : p.vocab.tokens()) concepts += t.rfind("wn:", 0) == 0;
  bool typed_edge = false, concept_node = false;
  for (int64_t i = 0; i < p.store.size(); ++i) {
    const GraphView g = p.store.graph(i);
    for (int64_t e = 0; e < g.num_edges; ++e) typed_edge |= g.edge_type[e] >= kSyntaxEdgeBase;
    for (int64_t v = 0; v < g.num_nodes; ++v) concept_node |= g.node_type[v] == kConceptNode;
  }
  EXPECT_TRUE(typed_edge) << "no Link Grammar link in 'oil prices rise' and the rest";
  EXPECT_EQ(concept_node, concepts > 0);
  // Reopened from the cache: the same vocabulary, concepts included.
  const PreparedData again = ds.load();
  EXPECT_FALSE(again.built_now);
  EXPECT_EQ(again.vocab.tokens(), p.vocab.tokens());
}

}  // namespace
}  // namespace autoglm::core::graph
