#include "core/graph/graph_batch.h"

#include <ATen/Functions.h>
#include <gtest/gtest.h>

#include <tuple>

#include "core/error.h"
#include "core/graph/graph_builder.h"

namespace autoglm::core::graph {
namespace {


std::vector<Graph> sampleGraphs() {
  GraphConfig cfg;
  CooccurrenceGraphBuilder b(cfg);
  std::vector<Graph> gs{b.build({3, 4, 5}), b.build({7}), b.build({3, 8, 3, 9, 10})};
  for (size_t i = 0; i < gs.size(); ++i) gs[i].label = static_cast<int64_t>(i);
  return gs;
}

TEST(Collate, OffsetsNodesAndEdgesBlockDiagonally) {
  auto gs = sampleGraphs();
  std::vector<GraphView> views;
  for (auto& g : gs) views.push_back(g.view());
  GraphBatch b = collate(views);
  const int64_t n0 = gs[0].numNodes(), n1 = gs[1].numNodes(), n2 = gs[2].numNodes();
  ASSERT_EQ(b.num_nodes, n0 + n1 + n2);
  ASSERT_EQ(b.num_edges, gs[0].numEdges() + gs[1].numEdges() + gs[2].numEdges());
  EXPECT_EQ(b.graph_ptr[1].item<int64_t>(), n0);
  EXPECT_EQ(b.graph_ptr[2].item<int64_t>(), n0 + n1);
  EXPECT_EQ(b.labels[2].item<int64_t>(), 2);
  // Every edge stays inside its graph's node range, and the batch is sorted by dst.
  auto src = b.src.accessor<int64_t, 1>();
  auto dst = b.dst.accessor<int64_t, 1>();
  auto ng = b.node_graph.accessor<int64_t, 1>();
  for (int64_t e = 0; e < b.num_edges; ++e) {
    EXPECT_EQ(ng[src[e]], ng[dst[e]]);
    if (e > 0) {
      EXPECT_LE(dst[e - 1], dst[e]);
    }
  }
  // Third graph's first edge is its own first edge shifted by n0 + n1.
  const int64_t e2 = gs[0].numEdges() + gs[1].numEdges();
  EXPECT_EQ(src[e2], gs[2].src[0] + n0 + n1);
  EXPECT_EQ(dst[e2], gs[2].dst[0] + n0 + n1);
  EXPECT_EQ(b.tokens[n0].item<int64_t>(), 7);
}

TEST(Collate, CsrViewsMatchEdgeLists) {
  auto gs = sampleGraphs();
  std::vector<GraphView> views;
  for (auto& g : gs) views.push_back(g.view());
  GraphBatch b = collate(views);
  auto src = b.src.accessor<int64_t, 1>();
  auto dst = b.dst.accessor<int64_t, 1>();
  auto in_ptr = b.in_ptr.accessor<int64_t, 1>();
  auto out_ptr = b.out_ptr.accessor<int64_t, 1>();
  auto perm = b.out_perm.accessor<int64_t, 1>();
  std::vector<int> seen(static_cast<size_t>(b.num_edges), 0);
  for (int64_t v = 0; v < b.num_nodes; ++v) {
    for (int64_t e = in_ptr[v]; e < in_ptr[v + 1]; ++e) EXPECT_EQ(dst[e], v);
    for (int64_t k = out_ptr[v]; k < out_ptr[v + 1]; ++k) {
      EXPECT_EQ(src[perm[k]], v);
      ++seen[static_cast<size_t>(perm[k])];
    }
  }
  for (int s : seen) EXPECT_EQ(s, 1);  // out_perm is a permutation
}

TEST(PlanBatches, RespectsGraphCountAndNodeBudget) {
  std::vector<int64_t> nodes{5, 5, 5, 20, 5, 5};
  std::vector<int64_t> order{0, 1, 2, 3, 4, 5};
  auto n = [&](int64_t i) { return nodes[static_cast<size_t>(i)]; };
  auto by_count = planBatches(order, n, {2, 0});
  EXPECT_EQ(by_count, (std::vector<std::vector<int64_t>>{{0, 1}, {2, 3}, {4, 5}}));
  // Budget 12: {0,1} (10), {2} (adding 20 would exceed), {3} alone (over budget itself), {4,5}.
  auto by_nodes = planBatches(order, n, {10, 12});
  EXPECT_EQ(by_nodes, (std::vector<std::vector<int64_t>>{{0, 1}, {2}, {3}, {4, 5}}));
  for (const auto& b : by_nodes) {
    int64_t total = 0;
    for (int64_t i : b) total += n(i);
    EXPECT_TRUE(total <= 12 || b.size() == 1);
  }
  EXPECT_TRUE(planBatches({}, n, {4, 0}).empty());
}

}  // namespace
// subBatch of some graphs equals collating those graphs alone, field by field,
// and names the kept nodes' rows in the original batch.
TEST(SubBatch, EqualsCollatingTheKeptGraphs) {
  CooccurrenceGraphBuilder b(GraphConfig{});
  std::vector<Graph> graphs = {b.build({3, 4, 5, 3, 6}), b.build({9}), b.build({1, 2, 1, 2, 7, 8}),
                               b.build({5, 6, 7})};
  for (size_t i = 0; i < graphs.size(); ++i) graphs[i].label = static_cast<int64_t>(10 + i);
  std::vector<GraphView> all, kept;
  for (auto& g : graphs) all.push_back(g.view());
  const GraphBatch full = collate(all);
  const std::vector<bool> mask = {false, true, true, false};
  for (size_t i = 0; i < graphs.size(); ++i) {
    if (mask[i]) kept.push_back(graphs[i].view());
  }
  const GraphBatch want = collate(kept);
  at::Tensor nodes;
  const GraphBatch got = subBatch(full, at::tensor({0, 1, 1, 0}).to(at::kBool), &nodes);
  EXPECT_EQ(got.num_graphs, 2);
  EXPECT_EQ(got.num_nodes, want.num_nodes);
  EXPECT_EQ(got.num_edges, want.num_edges);
  for (const auto& [name, a, w] : {std::tuple{"tokens", got.tokens, want.tokens}, {"src", got.src, want.src},
                                   {"dst", got.dst, want.dst}, {"weight", got.weight, want.weight},
                                   {"in_ptr", got.in_ptr, want.in_ptr}, {"out_ptr", got.out_ptr, want.out_ptr},
                                   {"out_perm", got.out_perm, want.out_perm},
                                   {"node_graph", got.node_graph, want.node_graph},
                                   {"graph_ptr", got.graph_ptr, want.graph_ptr}, {"labels", got.labels, want.labels}}) {
    EXPECT_TRUE(at::equal(a, w)) << name;
  }
  // The first kept node is graph 1's first.
  const int64_t first = full.graph_ptr[1].item<int64_t>();
  EXPECT_EQ(nodes[0].item<int64_t>(), first);
  EXPECT_TRUE(at::equal(full.tokens.index_select(0, nodes), got.tokens));
}

TEST(SubBatch, KeepingNoneOrAll) {
  CooccurrenceGraphBuilder b(GraphConfig{});
  std::vector<Graph> graphs = {b.build({3, 4}), b.build({5, 6, 7})};
  std::vector<GraphView> views;
  for (auto& g : graphs) views.push_back(g.view());
  const GraphBatch full = collate(views);
  const GraphBatch none = subBatch(full, at::zeros({2}, at::TensorOptions().dtype(at::kBool)));
  EXPECT_EQ(none.num_graphs, 0);
  EXPECT_EQ(none.num_nodes, 0);
  EXPECT_EQ(none.graph_ptr.numel(), 1);
  const GraphBatch every = subBatch(full, at::ones({2}, at::TensorOptions().dtype(at::kBool)));
  EXPECT_TRUE(at::equal(every.src, full.src));
  EXPECT_TRUE(at::equal(every.out_perm, full.out_perm));
  EXPECT_THROW(subBatch(full, at::ones({3}, at::TensorOptions().dtype(at::kBool))), Error);
}

}  // namespace autoglm::core::graph
