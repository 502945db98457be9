// Learned edges: top-k neighbour selection by cosine similarity on hand-made
// graphs, the grown batch (order, CSR views, types, weights), and the
// classifier option (model.learned_edges) trained end to end.

#include "core/graph/learned_edges.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/graph/graph_builder.h"
#include "core/graph/graph_types.h"
#include "core/model/gat_layer.h"
#include "core/model/graph_classifier.h"

namespace autoglm::core::model {
namespace {

using namespace core::graph;
using Pair = std::pair<int64_t, int64_t>;  // (src, dst)

// A graph of n nodes whose edges (src, dst) are given sorted by dst.
Graph handGraph(int64_t n, const std::vector<Pair>& edges, float weight0 = 1.0f, uint8_t type0 = kCooccurrenceEdge) {
  Graph g;
  for (int64_t v = 0; v < n; ++v) g.tokens.push_back(v + 1);
  for (size_t e = 0; e < edges.size(); ++e) {
    g.src.push_back(static_cast<int32_t>(edges[e].first));
    g.dst.push_back(static_cast<int32_t>(edges[e].second));
    g.weight.push_back(weight0 + static_cast<float>(e));
    g.edge_type.push_back(static_cast<uint8_t>(type0 + e % 3));
  }
  return g;
}

GraphBatch batchOf(const std::vector<Graph>& graphs) {
  std::vector<GraphView> views;
  for (const auto& g : graphs) views.push_back(g.view());
  return collate(views);
}

std::vector<Pair> pairsOf(const at::Tensor& p) {
  std::vector<Pair> out;
  for (int64_t j = 0; j < p.size(1); ++j) out.emplace_back(p[0][j].item<int64_t>(), p[1][j].item<int64_t>());
  return out;
}

// Graph A's states: n1 near n0, n2 orthogonal to n0 and n3, n3 opposite n0.
//   cos(0,1)=.995  cos(0,2)=0  cos(0,3)=-1  cos(1,2)=.0995  cos(1,3)=-.995  cos(2,3)=0
const std::vector<float> kStatesA = {1, 0, 1, 0.1f, 0, 1, -1, 0};

TEST(LearnedEdgesTopK, NearestNeighboursOfAHandMadeGraph) {
  const GraphBatch g = batchOf({handGraph(4, {{1, 0}, {0, 1}, {3, 2}})});
  const at::Tensor states = at::tensor(kStatesA).view({4, 2});
  const at::Tensor k1 = topKNeighbours(states, g, 1);
  EXPECT_EQ(k1.dtype(), at::kLong);
  EXPECT_EQ(pairsOf(k1), (std::vector<Pair>{{1, 0}, {0, 1}, {1, 2}, {2, 3}}));
  // k=2: node 2 ties between 0 and 3 (both cos 0): the lower id wins.
  EXPECT_EQ(pairsOf(topKNeighbours(states, g, 2)),
            (std::vector<Pair>{{1, 0}, {2, 0}, {0, 1}, {2, 1}, {1, 2}, {0, 2}, {2, 3}, {1, 3}}));
  EXPECT_TRUE(at::equal(topKNeighbours(states, g, 2), topKNeighbours(states, g, 2))) << "deterministic";
  // A scaled state has the same cosines.
  EXPECT_TRUE(at::equal(topKNeighbours(states * 3.0, g, 2), topKNeighbours(states, g, 2)));
  EXPECT_THROW(topKNeighbours(states, g, 0), Error);
  EXPECT_THROW(topKNeighbours(states.narrow(0, 0, 3), g, 1), Error);
}

TEST(LearnedEdgesTopK, NeverAcrossGraphsAndNoneForASingleNode) {
  // A (4 nodes), B (3 nodes, node 4 a copy of A's node 0), C (1 node, also a copy).
  const GraphBatch g = batchOf({handGraph(4, {{0, 0}}), handGraph(3, {{1, 0}}), handGraph(1, {{0, 0}})});
  std::vector<float> s = kStatesA;
  for (float x : {1.0f, 0.0f, 0.0f, 1.0f, 0.5f, -1.0f, 1.0f, 0.0f}) s.push_back(x);
  const at::Tensor states = at::tensor(s).view({8, 2});
  for (int64_t k : {1, 2, 5}) {
    const std::vector<Pair> p = pairsOf(topKNeighbours(states, g, k));
    std::map<int64_t, int64_t> in;
    for (const auto& [u, v] : p) {
      EXPECT_NE(u, v);
      EXPECT_EQ(g.node_graph[u].item<int64_t>(), g.node_graph[v].item<int64_t>()) << u << " -> " << v;
      ++in[v];
    }
    for (int64_t v = 0; v < 7; ++v) EXPECT_EQ(in[v], std::min<int64_t>(k, v < 4 ? 3 : 2)) << "k=" << k << " v=" << v;
    EXPECT_EQ(in.count(7), 0u) << "a one-node graph gets no learned edge";
  }
  // B: cos(4,5)=0, cos(4,6)=.447, cos(5,6)=-.894.
  const std::vector<Pair> p1 = pairsOf(topKNeighbours(states, g, 1));
  EXPECT_EQ(std::vector<Pair>(p1.begin() + 4, p1.end()), (std::vector<Pair>{{6, 4}, {4, 5}, {4, 6}}));
}

TEST(LearnedEdgesBatch, GrownBatchIsSortedWithConsistentViews) {
  const GraphBatch g = batchOf({handGraph(4, {{1, 0}, {2, 0}, {0, 1}, {1, 1}, {3, 2}, {2, 3}}, 1.0f, kContextEdge),
                                handGraph(3, {{1, 0}, {2, 2}}, 10.0f, kSenseEdge), handGraph(1, {})});
  // Learned pairs (src, dst), one duplicating an existing edge (1 -> 0).
  const at::Tensor pairs = at::tensor(std::vector<int64_t>{3, 1, 2, 6, 4, 1, 0, 0, 2, 5, 6, 3}).view({2, 6});
  at::Tensor ids;
  const GraphBatch n = withLearnedEdges(g, pairs, &ids);
  const int64_t E = g.num_edges, M = 6;
  ASSERT_EQ(n.num_edges, E + M);
  EXPECT_EQ(n.num_nodes, g.num_nodes);
  EXPECT_TRUE(at::equal(n.graph_ptr, g.graph_ptr));
  ASSERT_EQ(n.src.numel(), E + M);
  ASSERT_EQ(n.edge_type.numel(), E + M);
  ASSERT_EQ(n.weight.numel(), E + M);
  // Sorted by (dst, src); in_ptr and out_ptr count the edges into and out of each node.
  for (int64_t e = 1; e < n.num_edges; ++e) {
    const int64_t d0 = n.dst[e - 1].item<int64_t>(), d1 = n.dst[e].item<int64_t>();
    EXPECT_TRUE(d0 < d1 || (d0 == d1 && n.src[e - 1].item<int64_t>() <= n.src[e].item<int64_t>())) << e;
  }
  for (int64_t v = 0; v < n.num_nodes; ++v) {
    EXPECT_EQ((n.in_ptr[v + 1] - n.in_ptr[v]).item<int64_t>(), n.dst.eq(v).sum().item<int64_t>()) << v;
    EXPECT_EQ((n.out_ptr[v + 1] - n.out_ptr[v]).item<int64_t>(), n.src.eq(v).sum().item<int64_t>()) << v;
    for (int64_t j = n.out_ptr[v].item<int64_t>(); j < n.out_ptr[v + 1].item<int64_t>(); ++j) {
      EXPECT_EQ(n.src[n.out_perm[j]].item<int64_t>(), v);
    }
  }
  EXPECT_EQ(n.in_ptr[n.num_nodes].item<int64_t>(), E + M);
  // The added edges: where new_edge_ids says, of the learned type and weight 1.
  ASSERT_EQ(ids.numel(), M);
  for (int64_t j = 0; j < M; ++j) {
    const int64_t e = ids[j].item<int64_t>();
    EXPECT_EQ(n.src[e].item<int64_t>(), pairs[0][j].item<int64_t>()) << j;
    EXPECT_EQ(n.dst[e].item<int64_t>(), pairs[1][j].item<int64_t>()) << j;
    EXPECT_EQ(n.edge_type[e].item<int64_t>(), kLearnedEdge) << j;
    EXPECT_EQ(n.weight[e].item<float>(), 1.0f) << j;
  }
  // The duplicate follows the original 1 -> 0 (context edge of weight 1).
  EXPECT_EQ(ids[1].item<int64_t>(), 1);
  EXPECT_EQ(n.edge_type[0].item<int64_t>(), kContextEdge);
  // The other edges are the old ones with their types and weights.
  using Edge = std::tuple<int64_t, int64_t, int64_t, float>;
  std::multiset<Edge> before, after;
  for (int64_t e = 0; e < E; ++e) {
    before.emplace(g.src[e].item<int64_t>(), g.dst[e].item<int64_t>(), g.edge_type[e].item<int64_t>(),
                   g.weight[e].item<float>());
  }
  const std::set<int64_t> added(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + M);
  for (int64_t e = 0; e < n.num_edges; ++e) {
    if (added.count(e) != 0) continue;
    after.emplace(n.src[e].item<int64_t>(), n.dst[e].item<int64_t>(), n.edge_type[e].item<int64_t>(),
                  n.weight[e].item<float>());
  }
  EXPECT_EQ(before, after);
  // No pairs: the same edges.
  const GraphBatch same = withLearnedEdges(g, at::zeros({2, 0}, at::kLong));
  EXPECT_TRUE(at::equal(same.src, g.src) && at::equal(same.dst, g.dst) && at::equal(same.in_ptr, g.in_ptr));
  // Across graphs or outside the batch.
  EXPECT_THROW(withLearnedEdges(g, at::tensor(std::vector<int64_t>{0, 4}).view({2, 1})), DataError);
  EXPECT_THROW(withLearnedEdges(g, at::tensor(std::vector<int64_t>{0, 8}).view({2, 1})), DataError);
}

TEST(LearnedEdgesLayer, ExtraEdgeBiasAddsToTheLogits) {
  const GraphBatch g = batchOf({handGraph(4, {{1, 0}, {2, 0}, {0, 1}, {3, 1}, {0, 2}, {2, 3}})});
  GATLayerOptions o;
  o.in_dim = 2;
  o.heads = 2;
  o.head_dim = 3;
  at::manual_seed(1);
  GATLayer layer(o);
  layer.eval();
  const at::Tensor h = at::tensor(kStatesA).view({4, 2});
  const at::Tensor plain = layer.forward(h, g);
  layer.setExtraEdgeBias(at::zeros({g.num_edges, 2}));
  EXPECT_TRUE(at::allclose(layer.forward(h, g), plain));
  // A bias on edge 2 -> 0 alone shifts node 0's attention towards it.
  at::Tensor b = at::zeros({g.num_edges, 2});
  b[1].fill_(10.0);
  layer.setExtraEdgeBias(b);
  layer.forward(h, g);
  EXPECT_GT(layer.lastAttention()[1][0].item<float>(), 0.9f);
  layer.setExtraEdgeBias(at::zeros({g.num_edges + 1, 2}));
  EXPECT_THROW(layer.forward(h, g), DataError);
  layer.setExtraEdgeBias(at::Tensor());
  EXPECT_TRUE(at::allclose(layer.forward(h, g), plain));
}

ModelConfig learnedConfig(int64_t k) {
  ModelConfig cfg;
  cfg.embed_dim = 12;
  cfg.layers = 3;
  cfg.heads = 2;
  cfg.head_dim = 4;
  cfg.head_hidden = 6;
  cfg.dropout = 0.0;
  cfg.attn_dropout = 0.0;
  cfg.learned_edges = k;
  return cfg;
}

GraphBatch textBatch() {
  CooccurrenceGraphBuilder b(GraphConfig{});
  return batchOf({b.build({3, 4, 5, 3, 6}), b.build({9, 10}), b.build({11, 12, 13, 14, 11, 12}), b.build({7})});
}

TEST(LearnedEdgesClassifier, TrainsEndToEndAndChangesTheOutput) {
  const GraphBatch g = textBatch();
  for (bool relational : {false, true}) {
    ModelConfig off = learnedConfig(0), on = learnedConfig(2);
    off.relation_aware = on.relation_aware = relational;
    at::manual_seed(7);
    GraphClassifier plain(off, 20, 5);
    at::manual_seed(7);
    GraphClassifier learned(on, 20, 5);
    EXPECT_EQ(learned->partNames(), plain->partNames());
    EXPECT_FALSE(plain->named_parameters().contains("learned_edge_scale"));
    ASSERT_TRUE(learned->named_parameters().contains("learned_edge_scale"));
    EXPECT_EQ(learned->named_parameters()["learned_edge_scale"].item<float>(), 1.0f);
    // Every part's parameter is the plain model's, by name and value.
    const auto pp = plain->named_parameters(), lp = learned->named_parameters();
    EXPECT_EQ(lp.size(), pp.size() + 1);
    for (const auto& item : pp) {
      ASSERT_TRUE(lp.contains(item.key())) << item.key();
      EXPECT_TRUE(at::equal(lp[item.key()], item.value())) << item.key();
    }
    plain->eval();
    learned->eval();
    const at::Tensor a = plain->forward(g), b = learned->forward(g);
    ASSERT_EQ(b.sizes(), a.sizes());
    EXPECT_TRUE(at::isfinite(b).all().item<bool>());
    EXPECT_FALSE(at::allclose(a, b)) << "learned edges change what the later blocks see";
    EXPECT_TRUE(at::equal(learned->forward(g), b)) << "deterministic";

    learned->train();
    learned->zero_grad();
    const at::Tensor logits = learned->forward(g);
    at::cross_entropy_loss(logits, g.labels.clamp_min(0)).backward();
    const at::Tensor grad = learned->named_parameters()["learned_edge_scale"].grad();
    ASSERT_TRUE(grad.defined());
    EXPECT_GT(grad.abs().item<float>(), 0.0f) << "the scale is trained through the later blocks' logits";
    EXPECT_TRUE(learned->named_parameters()["block0.proj.weight"].grad().abs().sum().item<float>() > 0.0f);
  }
}

TEST(LearnedEdgesClassifier, EarlyExitCutsTheLearnedEdgesWithTheGraphs) {
  const GraphBatch g = textBatch();
  ModelConfig cfg = learnedConfig(2);
  cfg.early_exit = true;
  at::manual_seed(3);
  GraphClassifier m(cfg, 20, 5);
  m->eval();
  at::NoGradGuard no_grad;
  const auto exits = m->forwardExits(g);
  EXPECT_TRUE(at::allclose(exits.back(), m->forward(g)));
  EXPECT_TRUE(at::allclose(m->forwardEarlyExit(g, 1.0).logits, exits.back()));
  // A threshold between the graphs' confidence at exit0: some leave there, the
  // others' final logits are those of the whole batch.
  const at::Tensor conf = std::get<0>(at::softmax(exits[0], 1).max(1));
  const at::Tensor sorted = std::get<0>(conf.sort());
  ASSERT_LT(sorted[2].item<float>(), sorted[3].item<float>());
  const double threshold = 0.5 * (sorted[2].item<float>() + sorted[3].item<float>());
  const auto early = m->forwardEarlyExit(g, threshold);
  for (int64_t b = 0; b < g.num_graphs; ++b) {
    const bool left = conf[b].item<float>() >= threshold;
    EXPECT_EQ(early.exit_block[b].item<int64_t>(), left ? 1 : 3) << b;
    const at::Tensor want = left ? exits[0][b] : exits.back()[b];
    EXPECT_TRUE(at::allclose(early.logits[b], want, 1e-5, 1e-5)) << b;
  }
}

TEST(LearnedEdgesClassifier, LearnedAfterTheLastBlockIsAConfigError) {
  ModelConfig cfg = learnedConfig(2);
  cfg.learned_edges_after = 3;
  EXPECT_THROW(GraphClassifier(cfg, 20, 5), ConfigError);
  cfg.learned_edges_after = 2;
  GraphClassifier m(cfg, 20, 5);
  m->eval();
  EXPECT_EQ(m->forward(textBatch()).size(0), 4);
  m->keepParts(0, 2);
  EXPECT_THROW(m->forward(textBatch()), Error) << "pipeline slices are not supported";
}

}  // namespace
}  // namespace autoglm::core::model
