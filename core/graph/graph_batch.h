#pragma once
// Block-diagonal batches of small graphs.
//
// Node ids of graph k are offset by the node count of graphs 0..k-1; edges keep
// their (dst, src) order, so the whole batch is sorted by dst. Both CSR views
// used by attention are precomputed: in_ptr (incoming edges of node v are
// [in_ptr[v], in_ptr[v+1])) and, for the backward pass, out_ptr/out_perm
// (edge ids leaving node v are out_perm[out_ptr[v] .. out_ptr[v+1]]).

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "core/graph/graph.h"

namespace autoglm::core::graph {

struct GraphBatch {
  at::Tensor tokens;       // [N] int64
  at::Tensor src;          // [E] int64, global node ids
  at::Tensor dst;          // [E] int64, non-decreasing
  at::Tensor weight;       // [E] float32
  at::Tensor node_type;    // [N] int64, NodeType (graph_types.h)
  at::Tensor edge_type;    // [E] int64, EdgeType
  at::Tensor in_ptr;       // [N+1] int64
  at::Tensor out_ptr;      // [N+1] int64
  at::Tensor out_perm;     // [E] int64
  at::Tensor node_graph;   // [N] int64, graph of each node within the batch
  at::Tensor graph_ptr;    // [B+1] int64
  at::Tensor labels;       // [B] int64
  int64_t num_graphs = 0;
  int64_t num_nodes = 0;
  int64_t num_edges = 0;
};

// Collates graphs (fetched by callback) into one batch.
GraphBatch collate(const std::vector<GraphView>& graphs);

// The graphs of `b` whose entry of `keep` ([B], bool) is true, as a batch of
// their own (nodes renumbered in order; labels and weights kept). `nodes`, when
// given, receives the kept nodes' ids in `b` ([N'], int64), to select their
// states. Early exit uses it to drop the graphs that have left.
GraphBatch subBatch(const GraphBatch& b, const at::Tensor& keep, at::Tensor* nodes = nullptr);

// Recomputes the CSR views (in_ptr, out_ptr, out_perm) of a batch whose src,
// dst (sorted by dst), num_nodes and num_edges are set.
void rebuildCsr(GraphBatch& b);

struct BatchLimits {
  int64_t max_graphs = 64;   // graphs per batch
  int64_t max_nodes = 0;     // node budget per batch, 0 = none
};

// Cuts an ordered list of graph indices into consecutive batches: a batch closes
// when adding the next graph would exceed max_graphs or max_nodes. A single
// graph larger than the node budget forms a batch of its own.
std::vector<std::vector<int64_t>> planBatches(const std::vector<int64_t>& order,
                                              const std::function<int64_t(int64_t)>& num_nodes,
                                              const BatchLimits& limits);

}  // namespace autoglm::core::graph
