#include "core/graph/graph_batch.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include <cstring>

#include "core/error.h"

namespace autoglm::core::graph {

void rebuildCsr(GraphBatch& s) {
  const int64_t N = s.num_nodes, E = s.num_edges;
  auto i64 = at::TensorOptions().dtype(at::kLong);
  s.in_ptr = at::zeros({N + 1}, i64);
  s.out_ptr = at::zeros({N + 1}, i64);
  s.out_perm = at::empty({E}, i64);
  const int64_t* src = s.src.data_ptr<int64_t>();
  const int64_t* dst = s.dst.data_ptr<int64_t>();
  int64_t* in_ptr = s.in_ptr.data_ptr<int64_t>();
  int64_t* out_ptr = s.out_ptr.data_ptr<int64_t>();
  for (int64_t e = 0; e < E; ++e) {
    ++in_ptr[dst[e] + 1];
    ++out_ptr[src[e] + 1];
  }
  for (int64_t v = 0; v < N; ++v) {
    in_ptr[v + 1] += in_ptr[v];
    out_ptr[v + 1] += out_ptr[v];
  }
  // Counting sort of edge ids by src; stable, so deterministic.
  std::vector<int64_t> fill(out_ptr, out_ptr + N);
  int64_t* perm = s.out_perm.data_ptr<int64_t>();
  for (int64_t e = 0; e < E; ++e) perm[fill[static_cast<size_t>(src[e])]++] = e;
}

GraphBatch collate(const std::vector<GraphView>& graphs) {
  GraphBatch b;
  b.num_graphs = static_cast<int64_t>(graphs.size());
  for (const auto& g : graphs) {
    b.num_nodes += g.num_nodes;
    b.num_edges += g.num_edges;
  }
  const int64_t N = b.num_nodes, E = b.num_edges, B = b.num_graphs;
  auto i64 = at::TensorOptions().dtype(at::kLong);
  b.tokens = at::empty({N}, i64);
  b.src = at::empty({E}, i64);
  b.dst = at::empty({E}, i64);
  b.weight = at::empty({E}, at::TensorOptions().dtype(at::kFloat));
  b.node_type = at::zeros({N}, i64);
  b.edge_type = at::zeros({E}, i64);
  b.node_graph = at::empty({N}, i64);
  b.graph_ptr = at::empty({B + 1}, i64);
  b.labels = at::empty({B}, i64);

  int64_t* tok = b.tokens.data_ptr<int64_t>();
  int64_t* src = b.src.data_ptr<int64_t>();
  int64_t* dst = b.dst.data_ptr<int64_t>();
  float* w = b.weight.data_ptr<float>();
  int64_t* nt = b.node_type.data_ptr<int64_t>();
  int64_t* et = b.edge_type.data_ptr<int64_t>();
  int64_t* ng = b.node_graph.data_ptr<int64_t>();
  int64_t* gp = b.graph_ptr.data_ptr<int64_t>();
  int64_t* lab = b.labels.data_ptr<int64_t>();

  int64_t no = 0, eo = 0;
  for (int64_t k = 0; k < B; ++k) {
    const GraphView& g = graphs[static_cast<size_t>(k)];
    gp[k] = no;
    lab[k] = g.label;
    std::memcpy(tok + no, g.tokens, static_cast<size_t>(g.num_nodes) * sizeof(int64_t));
    for (int64_t v = 0; v < g.num_nodes; ++v) ng[no + v] = k;
    if (g.node_type != nullptr) {
      for (int64_t v = 0; v < g.num_nodes; ++v) nt[no + v] = g.node_type[v];
    }
    if (g.edge_type != nullptr) {
      for (int64_t e = 0; e < g.num_edges; ++e) et[eo + e] = g.edge_type[e];
    }
    int32_t prev_dst = 0;
    for (int64_t e = 0; e < g.num_edges; ++e) {
      const int32_t s = g.src[e], d = g.dst[e];
      if (s < 0 || s >= g.num_nodes || d < 0 || d >= g.num_nodes || d < prev_dst) {
        throw DataError(detail::concat("graph ", k, " of batch has a bad edge ", e, " (", s, " -> ", d,
                                       ") for ", g.num_nodes, " nodes or is not sorted by dst"));
      }
      prev_dst = d;
      src[eo + e] = no + s;
      dst[eo + e] = no + d;
      w[eo + e] = g.weight[e];
    }
    no += g.num_nodes;
    eo += g.num_edges;
  }
  gp[B] = no;
  rebuildCsr(b);
  return b;
}

GraphBatch subBatch(const GraphBatch& b, const at::Tensor& keep, at::Tensor* nodes) {
  AUTOGLM_CHECK(keep.dim() == 1 && keep.size(0) == b.num_graphs, "subBatch: keep has ", keep.numel(),
                " entries for ", b.num_graphs, " graphs");
  const at::Tensor k = keep.to(at::kBool).contiguous();
  const bool* kp = k.data_ptr<bool>();
  const int64_t* gp = b.graph_ptr.data_ptr<int64_t>();
  const int64_t* ng = b.node_graph.data_ptr<int64_t>();
  const int64_t* lab = b.labels.data_ptr<int64_t>();
  auto i64 = at::TensorOptions().dtype(at::kLong);

  // Nodes: the kept graphs' in order, renumbered.
  GraphBatch s;
  std::vector<int64_t> new_id(static_cast<size_t>(b.num_nodes), -1), kept, graph_ptr{0}, node_graph, labels;
  for (int64_t g = 0; g < b.num_graphs; ++g) {
    if (!kp[g]) continue;
    for (int64_t v = gp[g]; v < gp[g + 1]; ++v) {
      new_id[static_cast<size_t>(v)] = static_cast<int64_t>(kept.size());
      kept.push_back(v);
      node_graph.push_back(s.num_graphs);
    }
    labels.push_back(lab[g]);
    graph_ptr.push_back(static_cast<int64_t>(kept.size()));
    ++s.num_graphs;
  }
  s.num_nodes = static_cast<int64_t>(kept.size());
  const at::Tensor kept_t = at::tensor(kept, i64);
  s.tokens = b.tokens.index_select(0, kept_t);
  s.node_type = b.node_type.index_select(0, kept_t);
  s.node_graph = at::tensor(node_graph, i64);
  s.graph_ptr = at::tensor(graph_ptr, i64);
  s.labels = at::tensor(labels, i64);

  // Edges: those into kept nodes (both ends lie in one graph), order kept, so
  // dst stays sorted.
  const int64_t* src = b.src.data_ptr<int64_t>();
  const int64_t* dst = b.dst.data_ptr<int64_t>();
  std::vector<int64_t> kept_edges, new_src, new_dst;
  for (int64_t e = 0; e < b.num_edges; ++e) {
    if (!kp[ng[dst[e]]]) continue;
    kept_edges.push_back(e);
    new_src.push_back(new_id[static_cast<size_t>(src[e])]);
    new_dst.push_back(new_id[static_cast<size_t>(dst[e])]);
  }
  s.num_edges = static_cast<int64_t>(kept_edges.size());
  s.src = at::tensor(new_src, i64);
  s.dst = at::tensor(new_dst, i64);
  const at::Tensor kept_edges_t = at::tensor(kept_edges, i64);
  s.weight = b.weight.index_select(0, kept_edges_t);
  s.edge_type = b.edge_type.index_select(0, kept_edges_t);
  rebuildCsr(s);
  if (nodes != nullptr) *nodes = kept_t;
  return s;
}

std::vector<std::vector<int64_t>> planBatches(const std::vector<int64_t>& order,
                                              const std::function<int64_t(int64_t)>& num_nodes,
                                              const BatchLimits& limits) {
  AUTOGLM_CHECK(limits.max_graphs >= 1, "max_graphs must be >= 1, got ", limits.max_graphs);
  std::vector<std::vector<int64_t>> batches;
  std::vector<int64_t> cur;
  int64_t cur_nodes = 0;
  for (int64_t idx : order) {
    const int64_t n = num_nodes(idx);
    const bool full = static_cast<int64_t>(cur.size()) >= limits.max_graphs ||
                      (limits.max_nodes > 0 && cur_nodes + n > limits.max_nodes);
    if (full && !cur.empty()) {
      batches.push_back(std::move(cur));
      cur.clear();
      cur_nodes = 0;
    }
    cur.push_back(idx);
    cur_nodes += n;
  }
  if (!cur.empty()) batches.push_back(std::move(cur));
  return batches;
}

}  // namespace autoglm::core::graph
