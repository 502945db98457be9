#pragma once
// Learned edges (model.learned_edges): edges added within each document by the
// similarity of node states, so that later attention blocks can reach nodes
// the built graph does not connect.
//
// topKNeighbours selects (it runs without gradient); the model makes the
// selection trainable through a logit bias on the added edges that is
// differentiable in the states (graph_classifier.h).

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "core/graph/graph_batch.h"

namespace autoglm::core::graph {

// For every node v of the batch, the k other nodes of v's graph whose states
// have the highest cosine similarity to v's (ties broken by the lower node id;
// all of them when the graph has at most k other nodes; never v itself), as
// pairs [2, M] int64: row 0 the neighbour (src), row 1 v (dst). Columns are
// ordered by dst, then by decreasing similarity. states: [N, D] float, one row
// per node of g (a zero row has similarity 0 to every node). Deterministic;
// computed in float64 under NoGradGuard. Throws Error when k < 1 or states
// does not match g.
at::Tensor topKNeighbours(const at::Tensor& states, const GraphBatch& g, int64_t k);

// g with the edges `pairs` ([2, M] int64, src and dst global node ids of one
// graph each) added, of type kLearnedEdge and weight 1; an added edge may
// duplicate an existing one (multi-edges are kept). Edges are re-sorted by
// (dst, src) stably (existing edges before added ones where both tie) and the
// CSR views rebuilt; nodes are unchanged. new_edge_ids, when given, receives
// [M] int64: the position of pair j in the new edge order. Throws DataError for
// a pair outside [0, N) or across graphs.
GraphBatch withLearnedEdges(const GraphBatch& g, const at::Tensor& pairs, at::Tensor* new_edge_ids = nullptr);

}  // namespace autoglm::core::graph
