#include "core/graph/augment.h"

#include <gtest/gtest.h>

#include <map>
#include <tuple>

#include "core/graph/graph_builder.h"
#include "core/graph/graph_types.h"
#include "core/text/vocab.h"

namespace autoglm::core::graph {
namespace {

// A document of 12 tokens (ids from 3) with co-occurrence, <doc> node and self loops.
Graph sampleGraph() {
  GraphConfig cfg;
  CooccurrenceGraphBuilder b(cfg);
  Graph g = b.build({3, 4, 5, 6, 3, 7, 8, 9, 10, 4, 11, 12});
  g.label = 5;
  return g;
}

bool sortedByDstSrc(const Graph& g) {
  for (int64_t e = 1; e < g.numEdges(); ++e) {
    const auto i = static_cast<size_t>(e);
    if (std::tie(g.dst[i - 1], g.src[i - 1]) > std::tie(g.dst[i], g.src[i])) return false;
  }
  return true;
}

bool sameGraph(const Graph& a, const Graph& b) {
  return a.tokens == b.tokens && a.src == b.src && a.dst == b.dst && a.weight == b.weight &&
         a.node_type == b.node_type && a.edge_type == b.edge_type && a.label == b.label;
}

int64_t selfLoops(const Graph& g) {
  int64_t n = 0;
  for (int64_t e = 0; e < g.numEdges(); ++e) n += g.src[static_cast<size_t>(e)] == g.dst[static_cast<size_t>(e)];
  return n;
}

TEST(DropEdges, ZeroProbabilityIsTheIdentity) {
  const Graph g = sampleGraph();
  std::mt19937_64 gen(1);
  EXPECT_TRUE(sameGraph(dropEdges(g.view(), 0.0, gen), g));
  EXPECT_TRUE(sameGraph(copyGraph(g.view()), g));
}

TEST(DropEdges, ProbabilityOneKeepsOnlySelfLoops) {
  const Graph g = sampleGraph();
  ASSERT_GT(g.numEdges(), selfLoops(g));
  std::mt19937_64 gen(1);
  const Graph d = dropEdges(g.view(), 1.0, gen);
  EXPECT_EQ(d.numEdges(), g.numNodes()) << "one self loop per node, the <doc> node included";
  EXPECT_EQ(selfLoops(d), d.numEdges());
  EXPECT_EQ(d.tokens, g.tokens);
  EXPECT_EQ(d.node_type, g.node_type);
  EXPECT_EQ(d.edge_type.size(), d.src.size());
  for (uint8_t t : d.edge_type) EXPECT_EQ(t, kSelfLoopEdge);
}

TEST(DropEdges, SortedSymmetricAndReproducibleBySeed) {
  const Graph g = sampleGraph();
  for (uint64_t seed : {1u, 2u, 3u}) {
    std::mt19937_64 a(seed), b(seed);
    const Graph da = dropEdges(g.view(), 0.5, a), db = dropEdges(g.view(), 0.5, b);
    EXPECT_TRUE(sameGraph(da, db)) << "seed " << seed;
    EXPECT_TRUE(sortedByDstSrc(da));
    EXPECT_LT(da.numEdges(), g.numEdges());
    EXPECT_GT(da.numEdges(), selfLoops(g));
    EXPECT_EQ(selfLoops(da), selfLoops(g));
    // Both directions of a pair are kept or dropped together.
    std::map<std::pair<int32_t, int32_t>, int> kept;
    for (size_t e = 0; e < da.src.size(); ++e) ++kept[{da.src[e], da.dst[e]}];
    for (const auto& [edge, n] : kept) EXPECT_EQ(kept.count({edge.second, edge.first}), 1u);
  }
  std::mt19937_64 a(1), b(2);
  EXPECT_FALSE(sameGraph(dropEdges(g.view(), 0.5, a), dropEdges(g.view(), 0.5, b)));
}

TEST(MaskNodes, NeverMasksTheContextNodeAndIsReproducible) {
  const Graph g = sampleGraph();
  ASSERT_EQ(g.tokens.back(), text::Vocab::kDoc);
  std::mt19937_64 gen(3);
  const Graph all = maskNodes(g.view(), 1.0, text::Vocab::kUnk, gen);
  for (int64_t v = 0; v + 1 < g.numNodes(); ++v) EXPECT_EQ(all.tokens[static_cast<size_t>(v)], text::Vocab::kUnk);
  EXPECT_EQ(all.tokens.back(), text::Vocab::kDoc);
  EXPECT_EQ(all.src, g.src);
  EXPECT_EQ(all.edge_type, g.edge_type);

  // Untyped graphs: the <doc> node is known by its token.
  Graph untyped = g;
  untyped.node_type.clear();
  untyped.edge_type.clear();
  const Graph m = maskNodes(untyped.view(), 1.0, text::Vocab::kUnk, gen);
  EXPECT_EQ(m.tokens.back(), text::Vocab::kDoc);
  EXPECT_TRUE(m.node_type.empty());

  std::mt19937_64 a(9), b(9);
  const Graph ma = maskNodes(g.view(), 0.5, text::Vocab::kUnk, a), mb = maskNodes(g.view(), 0.5, text::Vocab::kUnk, b);
  EXPECT_TRUE(sameGraph(ma, mb));
  std::mt19937_64 c(9);
  EXPECT_TRUE(sameGraph(maskNodes(g.view(), 0.0, text::Vocab::kUnk, c), g));
}

TEST(Augment, DropsThenMasksFromOneGenerator) {
  const Graph g = sampleGraph();
  AugmentOptions o;
  o.edge_drop = 0.3;
  o.node_mask = 0.3;
  std::mt19937_64 a(5), b(5);
  const Graph va = augment(g.view(), o, a), vb = augment(g.view(), o, b);
  EXPECT_TRUE(sameGraph(va, vb));
  EXPECT_TRUE(sortedByDstSrc(va));
  EXPECT_EQ(va.label, 5);
  EXPECT_EQ(va.tokens.back(), text::Vocab::kDoc);
}

}  // namespace
}  // namespace autoglm::core::graph
