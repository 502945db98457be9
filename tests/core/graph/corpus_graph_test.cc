#include "core/graph/corpus_graph.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

namespace autoglm::core::graph {
namespace {

using Docs = std::vector<std::vector<std::string>>;

int64_t wordNode(const CorpusGraph& g, const std::string& w) {
  const auto it = std::find(g.words.begin(), g.words.end(), w);
  EXPECT_NE(it, g.words.end()) << w;
  return g.num_docs + (it - g.words.begin());
}

// The weight before normalisation: a self loop weighs 1, so d_i = 1 / A_ii and
// w_rc = A_rc * sqrt(d_r * d_c).
double rawWeight(const CorpusGraph& g, int64_t r, int64_t c) {
  return g.at(r, c) / std::sqrt(static_cast<double>(g.at(r, r)) * g.at(c, c));
}

// TextGCN's counting, written out window by window.
std::map<std::pair<std::string, std::string>, double> referencePmi(const Docs& docs, size_t window) {
  std::vector<std::vector<std::string>> windows;
  for (const auto& d : docs) {
    if (d.size() <= window) {
      windows.push_back(d);
      continue;
    }
    for (size_t s = 0; s + window <= d.size(); ++s) windows.emplace_back(d.begin() + s, d.begin() + s + window);
  }
  std::map<std::string, double> freq;
  std::map<std::pair<std::string, std::string>, double> pairs;
  for (const auto& w : windows) {
    for (const auto& t : std::set<std::string>(w.begin(), w.end())) freq[t] += 1;
    for (size_t i = 1; i < w.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (w[i] != w[j]) pairs[{std::min(w[i], w[j]), std::max(w[i], w[j])}] += 1;
      }
    }
  }
  std::map<std::pair<std::string, std::string>, double> pmi;
  const auto n = static_cast<double>(windows.size());
  for (const auto& [p, c] : pairs) {
    const double v = std::log(c * n / (freq[p.first] * freq[p.second]));
    if (v > 0) pmi[p] = v;
  }
  return pmi;
}

TEST(CorpusGraphTest, HandComputedPmiAndTfIdf) {
  // Windows of 2: "a b", "b c" (doc 0), "a b" (doc 1), "c d" (doc 2): W = 4,
  // n_a = 2, n_b = 3, n_c = 2, n_d = 1; n_ab = 2, n_bc = 1, n_cd = 1.
  CorpusGraphConfig cfg;
  cfg.window = 2;
  const CorpusGraph g = buildCorpusGraph({{"a", "b", "c"}, {"a", "b"}, {"c", "d"}}, cfg);
  ASSERT_EQ(g.num_docs, 3);
  ASSERT_EQ(g.words.size(), 4u);
  EXPECT_EQ(g.numNodes(), 7);
  const int64_t a = wordNode(g, "a"), b = wordNode(g, "b"), c = wordNode(g, "c"), d = wordNode(g, "d");
  EXPECT_NEAR(rawWeight(g, a, b), std::log(2.0 * 4 / (2 * 3)), 1e-5);
  EXPECT_NEAR(rawWeight(g, c, d), std::log(1.0 * 4 / (2 * 1)), 1e-5);
  EXPECT_EQ(g.at(b, c), 0.0f);  // log(4 / 6) < 0: no edge
  EXPECT_EQ(g.word_word_edges, 2);
  // TF-IDF: "d" once in doc 2, in 1 of 3 documents; "a" in 2 of 3.
  EXPECT_NEAR(rawWeight(g, 2, d), std::log(3.0), 1e-5);
  EXPECT_NEAR(rawWeight(g, 0, a), std::log(1.5), 1e-5);
  EXPECT_EQ(g.at(0, d), 0.0f);
  EXPECT_EQ(g.doc_word_edges, 7);
  // D^-1/2 (A + I) D^-1/2: the self loop of d is 1 / (1 + w(c,d) + w(doc2,d)).
  EXPECT_NEAR(g.at(d, d), 1.0 / (1.0 + std::log(2.0) + std::log(3.0)), 1e-6);
}

TEST(CorpusGraphTest, ClosedFormWindowCountsEqualTextGcnCounting) {
  std::mt19937 rng(3);
  Docs docs;
  for (int i = 0; i < 40; ++i) {
    std::vector<std::string> d(1 + rng() % 15);
    for (auto& t : d) t = std::string(1, static_cast<char>('a' + rng() % 8));
    docs.push_back(d);
  }
  CorpusGraphConfig cfg;
  cfg.window = 4;
  const CorpusGraph g = buildCorpusGraph(docs, cfg);
  const auto pmi = referencePmi(docs, 4);
  EXPECT_EQ(g.word_word_edges, static_cast<int64_t>(pmi.size()));
  for (const auto& [p, v] : pmi) {
    EXPECT_NEAR(rawWeight(g, wordNode(g, p.first), wordNode(g, p.second)), v, 1e-4) << p.first << p.second;
  }
  // Symmetric, rows sorted.
  for (int64_t r = 0; r < g.numNodes(); ++r) {
    for (int64_t k = g.row_ptr[r]; k < g.row_ptr[r + 1]; ++k) {
      EXPECT_EQ(g.at(g.col[k], r), g.val[k]);
      if (k > g.row_ptr[r]) EXPECT_LT(g.col[k - 1], g.col[k]);
    }
  }
}

TEST(CorpusGraphTest, MinCountDropsRareWordsAndWordlessDocumentsKeepASelfLoop) {
  CorpusGraphConfig cfg;
  cfg.min_count = 2;
  const CorpusGraph g = buildCorpusGraph({{"x", "y"}, {"x", "y"}, {"z"}, {}}, cfg);
  EXPECT_EQ(g.words, (std::vector<std::string>{"x", "y"}));
  for (int64_t doc : {2, 3}) {
    EXPECT_EQ(g.row_ptr[doc + 1] - g.row_ptr[doc], 1);
    EXPECT_FLOAT_EQ(g.at(doc, doc), 1.0f);
  }
}

TEST(CorpusGraphTest, WordNetConceptsLinkTheWordsThatShareThem) {
  CorpusGraphConfig cfg;
  cfg.wordnet = true;
  cfg.hypernym_depth = 0;
  const CorpusGraph g = buildCorpusGraph({{"dog", "barked"}, {"dogs", "slept"}}, cfg);
  // dog and dogs reach dog's first noun sense; no other concept has two words.
  const auto it = std::find(g.concepts.begin(), g.concepts.end(), "wn:n:02084071");
  ASSERT_NE(it, g.concepts.end());
  const int64_t node = g.num_docs + static_cast<int64_t>(g.words.size()) + (it - g.concepts.begin());
  EXPECT_NEAR(rawWeight(g, wordNode(g, "dog"), node), 1.0, 1e-5);
  EXPECT_NEAR(rawWeight(g, wordNode(g, "dogs"), node), 1.0, 1e-5);
  EXPECT_EQ(g.at(wordNode(g, "barked"), node), 0.0f);
  EXPECT_GE(g.word_concept_edges, 2);
}

}  // namespace
}  // namespace autoglm::core::graph
