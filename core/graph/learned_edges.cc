#include "core/graph/learned_edges.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "core/error.h"
#include "core/graph/graph_types.h"

namespace autoglm::core::graph {

namespace {

// Appends the top-k neighbours of every node of one graph (nodes [lo, hi)).
void topKOfGraph(const at::Tensor& unit, int64_t lo, int64_t hi, int64_t k, std::vector<int64_t>& src,
                 std::vector<int64_t>& dst) {
  const int64_t n = hi - lo;
  if (n < 2) return;
  const at::Tensor x = unit.narrow(0, lo, n);
  const at::Tensor sim = at::mm(x, x.t()).contiguous();  // [n, n] float64
  const double* s = sim.data_ptr<double>();
  const int64_t take = std::min(k, n - 1);
  std::vector<int64_t> order;
  for (int64_t v = 0; v < n; ++v) {
    const double* row = s + v * n;
    order.clear();
    for (int64_t u = 0; u < n; ++u) {
      if (u != v) order.push_back(u);
    }
    std::partial_sort(order.begin(), order.begin() + take, order.end(), [row](int64_t a, int64_t b) {
      return row[a] > row[b] || (row[a] == row[b] && a < b);
    });
    for (int64_t i = 0; i < take; ++i) {
      src.push_back(lo + order[static_cast<size_t>(i)]);
      dst.push_back(lo + v);
    }
  }
}

}  // namespace

at::Tensor topKNeighbours(const at::Tensor& states, const GraphBatch& g, int64_t k) {
  AUTOGLM_CHECK(k >= 1, "topKNeighbours: k must be >= 1, got ", k);
  AUTOGLM_CHECK(states.dim() == 2 && states.size(0) == g.num_nodes, "topKNeighbours: states of shape ",
                states.sizes(), " for a batch of ", g.num_nodes, " nodes");
  at::NoGradGuard no_grad;
  const at::Tensor x = states.detach().to(at::kDouble);
  const at::Tensor unit = (x / x.norm(2, {1}, true).clamp_min(1e-12)).contiguous();
  const int64_t* gp = g.graph_ptr.data_ptr<int64_t>();
  std::vector<int64_t> src, dst;
  for (int64_t b = 0; b < g.num_graphs; ++b) topKOfGraph(unit, gp[b], gp[b + 1], k, src, dst);
  const int64_t M = static_cast<int64_t>(src.size());
  at::Tensor pairs = at::empty({2, M}, at::TensorOptions().dtype(at::kLong));
  std::copy(src.begin(), src.end(), pairs.data_ptr<int64_t>());
  std::copy(dst.begin(), dst.end(), pairs.data_ptr<int64_t>() + M);
  return pairs;
}

GraphBatch withLearnedEdges(const GraphBatch& g, const at::Tensor& pairs, at::Tensor* new_edge_ids) {
  AUTOGLM_CHECK(pairs.dim() == 2 && pairs.size(0) == 2, "withLearnedEdges: pairs must be [2, M], got ",
                pairs.sizes());
  const at::Tensor p = pairs.to(at::kLong).contiguous();
  const int64_t M = p.size(1), E = g.num_edges, N = g.num_nodes;
  const int64_t* ps = p.data_ptr<int64_t>();
  const int64_t* pd = ps + M;
  const int64_t* ng = g.node_graph.data_ptr<int64_t>();
  for (int64_t j = 0; j < M; ++j) {
    if (ps[j] < 0 || ps[j] >= N || pd[j] < 0 || pd[j] >= N || ng[ps[j]] != ng[pd[j]]) {
      throw DataError(detail::concat("learned edge ", j, " (", ps[j], " -> ", pd[j], ") is outside the batch's ",
                                     N, " nodes or links two graphs"));
    }
  }
  auto i64 = at::TensorOptions().dtype(at::kLong);
  const at::Tensor old_type = g.edge_type.defined() ? g.edge_type : at::zeros({E}, i64);
  const at::Tensor src = at::cat({g.src, p.select(0, 0)}), dst = at::cat({g.dst, p.select(0, 1)});
  const int64_t* s = src.data_ptr<int64_t>();
  const int64_t* d = dst.data_ptr<int64_t>();
  std::vector<int64_t> order(static_cast<size_t>(E + M));
  std::iota(order.begin(), order.end(), int64_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [s, d](int64_t a, int64_t b) { return d[a] < d[b] || (d[a] == d[b] && s[a] < s[b]); });
  const at::Tensor perm = at::tensor(order, i64);

  GraphBatch out = g;
  out.num_edges = E + M;
  out.src = src.index_select(0, perm);
  out.dst = dst.index_select(0, perm);
  out.weight = at::cat({g.weight, at::ones({M}, g.weight.options())}).index_select(0, perm);
  out.edge_type = at::cat({old_type, at::full({M}, int64_t{kLearnedEdge}, i64)}).index_select(0, perm);
  rebuildCsr(out);
  if (new_edge_ids != nullptr) {
    *new_edge_ids = at::empty({M}, i64);
    int64_t* ids = new_edge_ids->data_ptr<int64_t>();
    for (int64_t pos = 0; pos < E + M; ++pos) {
      if (order[static_cast<size_t>(pos)] >= E) ids[order[static_cast<size_t>(pos)] - E] = pos;
    }
  }
  return out;
}

}  // namespace autoglm::core::graph
