#include "core/graph/graph_batch.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include <cstring>

#include "core/error.h"

namespace autoglm::core::graph {

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
  b.in_ptr = at::zeros({N + 1}, i64);
  b.out_ptr = at::zeros({N + 1}, i64);
  b.out_perm = at::empty({E}, i64);
  b.node_graph = at::empty({N}, i64);
  b.graph_ptr = at::empty({B + 1}, i64);
  b.labels = at::empty({B}, i64);

  int64_t* tok = b.tokens.data_ptr<int64_t>();
  int64_t* src = b.src.data_ptr<int64_t>();
  int64_t* dst = b.dst.data_ptr<int64_t>();
  float* w = b.weight.data_ptr<float>();
  int64_t* in_ptr = b.in_ptr.data_ptr<int64_t>();
  int64_t* out_ptr = b.out_ptr.data_ptr<int64_t>();
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
      ++in_ptr[no + d + 1];
      ++out_ptr[no + s + 1];
    }
    no += g.num_nodes;
    eo += g.num_edges;
  }
  gp[B] = no;
  for (int64_t v = 0; v < N; ++v) {
    in_ptr[v + 1] += in_ptr[v];
    out_ptr[v + 1] += out_ptr[v];
  }
  // Counting sort of edge ids by src; stable, so deterministic.
  std::vector<int64_t> fill(out_ptr, out_ptr + N);
  int64_t* perm = b.out_perm.data_ptr<int64_t>();
  for (int64_t e = 0; e < E; ++e) perm[fill[static_cast<size_t>(src[e])]++] = e;
  return b;
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
