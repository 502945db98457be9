#include "core/graph/graph_builder.h"

#include <gtest/gtest.h>

#include <map>

#include "core/error.h"
#include "core/text/vocab.h"

namespace autoglm::core::graph {
namespace {

using namespace core::text;

std::map<std::pair<int, int>, float> edgeMap(const Graph& g) {
  std::map<std::pair<int, int>, float> m;
  for (int64_t e = 0; e < g.numEdges(); ++e) m[{g.src[e], g.dst[e]}] = g.weight[e];
  return m;
}

TEST(CooccurrenceGraphBuilder, CountsWindowPairsOnHandMadeText) {
  // tokens 5 6 7 5, window 3 links distances 1 and 2:
  // {5,6}: positions (0,1),(1,3) -> 2; {5,7}: (0,2),(2,3) -> 2; {6,7}: (1,2) -> 1
  GraphConfig cfg;
  cfg.window = 3;
  cfg.context_node = false;
  cfg.self_loops = false;
  Graph g = CooccurrenceGraphBuilder(cfg).build({5, 6, 7, 5});
  EXPECT_EQ(g.tokens, (std::vector<int64_t>{5, 6, 7}));
  ASSERT_EQ(g.numEdges(), 6);
  auto m = edgeMap(g);
  EXPECT_EQ((m[{0, 1}]), 2.0f);
  EXPECT_EQ((m[{1, 0}]), 2.0f);
  EXPECT_EQ((m[{0, 2}]), 2.0f);
  EXPECT_EQ((m[{2, 0}]), 2.0f);
  EXPECT_EQ((m[{1, 2}]), 1.0f);
  EXPECT_EQ((m[{2, 1}]), 1.0f);
}

TEST(CooccurrenceGraphBuilder, ContextNodeAndSelfLoops) {
  GraphConfig cfg;  // window 3, context node, self loops
  Graph g = CooccurrenceGraphBuilder(cfg).build({5, 6, 7, 5});
  ASSERT_EQ(g.numNodes(), 4);
  EXPECT_EQ(g.tokens.back(), Vocab::kDoc);
  // 6 co-occurrence + 2*3 context + 4 self loops
  EXPECT_EQ(g.numEdges(), 16);
  auto m = edgeMap(g);
  for (int v = 0; v < 3; ++v) {
    EXPECT_EQ((m[{v, 3}]), 1.0f);
    EXPECT_EQ((m[{3, v}]), 1.0f);
  }
  for (int v = 0; v < 4; ++v) EXPECT_EQ((m[{v, v}]), 1.0f);
  // sorted by (dst, src)
  for (int64_t e = 1; e < g.numEdges(); ++e) {
    EXPECT_TRUE(g.dst[e - 1] < g.dst[e] || (g.dst[e - 1] == g.dst[e] && g.src[e - 1] < g.src[e]));
  }
}

TEST(CooccurrenceGraphBuilder, WindowTwoIsAdjacencyAndRepeatsGiveNoSelfEdge) {
  GraphConfig cfg;
  cfg.window = 2;
  cfg.context_node = false;
  cfg.self_loops = false;
  Graph g = CooccurrenceGraphBuilder(cfg).build({4, 4, 9});
  EXPECT_EQ(g.tokens, (std::vector<int64_t>{4, 9}));
  auto m = edgeMap(g);
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ((m[{0, 1}]), 1.0f);
}

TEST(CooccurrenceGraphBuilder, TruncatesToMaxDocLen) {
  GraphConfig cfg;
  cfg.max_doc_len = 2;
  cfg.context_node = false;
  Graph g = CooccurrenceGraphBuilder(cfg).build({10, 11, 12, 13});
  EXPECT_EQ(g.tokens, (std::vector<int64_t>{10, 11}));
}

TEST(CooccurrenceGraphBuilder, FingerprintFollowsSettings) {
  GraphConfig a, b;
  b.window = 4;
  EXPECT_NE(CooccurrenceGraphBuilder(a).fingerprint(), CooccurrenceGraphBuilder(b).fingerprint());
  EXPECT_EQ(CooccurrenceGraphBuilder(a).fingerprint(), CooccurrenceGraphBuilder(a).fingerprint());
  GraphConfig bad;
  bad.builder = static_cast<BuilderKind>(9);
  EXPECT_THROW(makeGraphBuilder(bad), ConfigError);
}

}  // namespace
}  // namespace autoglm::core::graph
