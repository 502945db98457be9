// The graph-corpus generator: its distributions, its limits, determinism, the
// planted signal, and the cache path through loadOrPrepare (data.format: synthetic).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "core/error.h"
#include "core/graph/corpus_generator.h"
#include "core/graph/graph_types.h"
#include "core/graph/prepared_data.h"
#include "core/text/vocab.h"

namespace autoglm::core::graph {
namespace {

CorpusGeneratorConfig small() {
  CorpusGeneratorConfig c;
  c.documents = 3000;
  c.nodes_mean = 30;
  c.nodes_max = 80;
  c.edges_per_node = 4.0;
  c.max_degree = 5;
  c.vocab = 5000;
  c.classes = 4;
  c.topic_words = 50;
  c.signal = 0.3;
  c.seed = 11;
  return c;
}

TEST(CorpusGenerator, SizesAndDegreesFollowTheSettings) {
  const CorpusGeneratorConfig cfg = small();
  const GraphStore::Contents c = generateCorpus(cfg);
  ASSERT_EQ(c.graphs.size(), 3000u);
  double nodes = 0, word_edges = 0;
  int64_t tests = 0;
  std::map<int64_t, int64_t> per_class;
  for (size_t d = 0; d < c.graphs.size(); ++d) {
    const Graph& g = c.graphs[d];
    ASSERT_GE(g.numNodes(), 2);
    ASSERT_LE(g.numNodes(), cfg.nodes_max);
    nodes += static_cast<double>(g.numNodes());
    std::set<int64_t> words(g.tokens.begin(), g.tokens.end());
    EXPECT_EQ(static_cast<int64_t>(words.size()), g.numNodes()) << "nodes are distinct words";
    std::vector<int64_t> in_degree(static_cast<size_t>(g.numNodes()), 0);
    std::set<std::pair<int32_t, int32_t>> pairs;
    for (int64_t e = 0; e < g.numEdges(); ++e) {
      if (e > 0) {
        ASSERT_TRUE(g.dst[e - 1] < g.dst[e] || (g.dst[e - 1] == g.dst[e] && g.src[e - 1] < g.src[e]))
            << "edges sorted by (dst, src), no duplicates";
      }
      pairs.insert({g.src[e], g.dst[e]});
      if (g.edge_type[e] == kCooccurrenceEdge) {
        ++in_degree[static_cast<size_t>(g.dst[e])];
        ++word_edges;
      }
    }
    for (int64_t e = 0; e < g.numEdges(); ++e) {
      EXPECT_TRUE(pairs.count({g.dst[e], g.src[e]})) << "every edge has its reverse";
    }
    for (int64_t deg : in_degree) ASSERT_LE(deg, cfg.max_degree);
    tests += c.splits[d] == text::Split::kTest;
    ++per_class[g.label];
  }
  // Log-normal around 30, clamped to [2, 80]: the mean stays within 5 %.
  EXPECT_NEAR(nodes / 3000, 30.0, 1.5);
  // Links drawn at 2 per node, some lost to the ends, repeats and the degree cap: 3 to 4 edges per node.
  EXPECT_GT(word_edges / nodes, 3.0);
  EXPECT_LE(word_edges / nodes, 4.0);
  EXPECT_NEAR(static_cast<double>(tests) / 3000, 0.3, 0.03);
  ASSERT_EQ(per_class.size(), 4u);
  for (const auto& [label, count] : per_class) EXPECT_NEAR(count, 750, 90) << "class " << label;
  EXPECT_EQ(c.vocab_tokens.size(), 5003u);
  EXPECT_EQ(c.vocab_tokens[text::Vocab::kDoc], "<doc>");
  EXPECT_EQ(c.label_names, (std::vector<std::string>{"c0", "c1", "c2", "c3"}));
}

TEST(CorpusGenerator, WordFrequenciesFollowThePowerLaw) {
  CorpusGeneratorConfig cfg = small();
  cfg.signal = 0.0;
  cfg.zipf = 1.0;
  const GraphStore::Contents c = generateCorpus(cfg);
  std::vector<int64_t> count(static_cast<size_t>(cfg.vocab + 3), 0);
  for (const Graph& g : c.graphs) {
    for (int64_t t : g.tokens) ++count[static_cast<size_t>(t)];
  }
  // P(word w) = ln((w+2)/(w+1)) / ln(vocab+1) ~ 1/w: the band of words 100-199 holds
  // ln(2) / ln(1.25) = 3.1 times as many draws as words 400-499 (too rare for a
  // document's distinct words to saturate them).
  auto band = [&](int64_t lo, int64_t hi) {
    double sum = 0;
    for (int64_t w = lo; w < hi; ++w) sum += static_cast<double>(count[static_cast<size_t>(w + 3)]);
    return sum;
  };
  EXPECT_NEAR(band(100, 200) / band(400, 500), std::log(2.0) / std::log(1.25), 0.3);
  // The head is the most frequent word.
  EXPECT_EQ(std::max_element(count.begin(), count.end()) - count.begin(), 3);
}

TEST(CorpusGenerator, SameSeedSameCorpusOtherSeedOtherCorpus) {
  CorpusGeneratorConfig cfg = small();
  cfg.documents = 200;
  const GraphStore::Contents a = generateCorpus(cfg), b = generateCorpus(cfg);
  cfg.seed = 12;
  const GraphStore::Contents other = generateCorpus(cfg);
  size_t differ = 0;
  for (size_t d = 0; d < a.graphs.size(); ++d) {
    EXPECT_EQ(a.graphs[d].tokens, b.graphs[d].tokens);
    EXPECT_EQ(a.graphs[d].src, b.graphs[d].src);
    EXPECT_EQ(a.graphs[d].dst, b.graphs[d].dst);
    EXPECT_EQ(a.graphs[d].label, b.graphs[d].label);
    differ += a.graphs[d].tokens != other.graphs[d].tokens;
  }
  EXPECT_GT(differ, 190u);
}

TEST(CorpusGenerator, PlantedSignalSeparatesTheClasses) {
  // A document's class is the class whose topic words it holds most of: far above chance (25 %).
  CorpusGeneratorConfig cfg = small();
  cfg.documents = 1000;
  const GraphStore::Contents c = generateCorpus(cfg);
  std::map<int64_t, std::map<int64_t, int64_t>> class_words;  // class -> word -> documents
  for (const Graph& g : c.graphs) {
    for (int64_t t : g.tokens) ++class_words[g.label][t];
  }
  int64_t right = 0;
  for (const Graph& g : c.graphs) {
    int64_t best = -1;
    double best_score = -1;
    for (const auto& [label, words] : class_words) {
      double score = 0;
      for (int64_t t : g.tokens) {
        const auto it = words.find(t);
        if (it != words.end() && it->second >= 20) score += 1;  // words frequent in that class
      }
      if (score > best_score) best_score = score, best = label;
    }
    right += best == g.label;
  }
  EXPECT_GT(right, 800);
}

TEST(CorpusGenerator, ContextNodeAndSelfLoops) {
  CorpusGeneratorConfig cfg = small();
  cfg.documents = 20;
  cfg.context_node = true;
  for (const Graph& g : generateCorpus(cfg).graphs) {
    const int64_t n = g.numNodes();
    EXPECT_EQ(g.tokens.back(), text::Vocab::kDoc);
    EXPECT_EQ(g.node_type.back(), kContextNode);
    int64_t loops = 0, context = 0;
    for (int64_t e = 0; e < g.numEdges(); ++e) {
      loops += g.edge_type[e] == kSelfLoopEdge;
      context += g.edge_type[e] == kContextEdge;
    }
    EXPECT_EQ(loops, n);
    EXPECT_EQ(context, 2 * (n - 1));
  }
}

TEST(CorpusGenerator, RefusesImpossibleSettings) {
  CorpusGeneratorConfig cfg = small();
  cfg.nodes_mean = 100;  // above nodes_max 80
  EXPECT_THROW(generateCorpus(cfg), ConfigError);
  cfg = small();
  cfg.nodes_max = 6000;  // more distinct words than the vocabulary
  EXPECT_THROW(generateCorpus(cfg), ConfigError);
  cfg = small();
  cfg.classes = 1;
  EXPECT_THROW(generateCorpus(cfg), ConfigError);
}

TEST(CorpusGenerator, LoadOrPrepareWritesAndReusesTheCache) {
  const auto dir = std::filesystem::temp_directory_path() / "autoglm_synthetic_cache_test";
  std::filesystem::remove_all(dir);
  DataConfig data;
  data.format = DataFormat::kSynthetic;
  data.cache_dir = dir.string();
  data.synthetic = small();
  data.synthetic.documents = 100;
  const PreparedData first = loadOrPrepare(data, {}, {}, {});
  EXPECT_TRUE(first.built_now);
  EXPECT_EQ(first.store.size(), 100);
  EXPECT_EQ(first.vocab.size(), 5003);
  EXPECT_EQ(first.label_names.size(), 4u);
  const PreparedData again = loadOrPrepare(data, {}, {}, {});
  EXPECT_FALSE(again.built_now);
  data.synthetic.seed = 99;  // other settings, other file
  const PreparedData other = loadOrPrepare(data, {}, {}, {});
  EXPECT_TRUE(other.built_now);
  EXPECT_NE(other.cache_path, first.cache_path);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace autoglm::core::graph
