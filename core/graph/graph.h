#pragma once
// One document as a graph, in owning (Graph) and borrowed (GraphView) forms.
//
// Edges are directed (an undirected co-occurrence contributes both directions)
// and sorted by (dst, src), so a batch built by concatenation is sorted by dst
// and attention can walk each node's incoming edges as one contiguous range.
// Nodes and edges carry a type (graph_types.h); a graph without types (empty
// vectors, null pointers in the view) reads as all words and co-occurrences.

#include <cstdint>
#include <vector>

namespace autoglm::core::graph {

struct GraphView {
  const int64_t* tokens = nullptr;  // token id per node
  const int32_t* src = nullptr;     // local node index
  const int32_t* dst = nullptr;
  const float* weight = nullptr;
  const uint8_t* node_type = nullptr;  // NodeType per node, or null (all words)
  const uint8_t* edge_type = nullptr;  // EdgeType per edge, or null (all co-occurrence)
  int64_t num_nodes = 0;
  int64_t num_edges = 0;
  int64_t label = -1;
};

struct Graph {
  std::vector<int64_t> tokens;
  std::vector<int32_t> src;
  std::vector<int32_t> dst;
  std::vector<float> weight;
  std::vector<uint8_t> node_type;  // empty, or one per node
  std::vector<uint8_t> edge_type;  // empty, or one per edge
  int64_t label = -1;

  int64_t numNodes() const { return static_cast<int64_t>(tokens.size()); }
  int64_t numEdges() const { return static_cast<int64_t>(src.size()); }
  GraphView view() const {
    return GraphView{tokens.data(),
                     src.data(),
                     dst.data(),
                     weight.data(),
                     node_type.empty() ? nullptr : node_type.data(),
                     edge_type.empty() ? nullptr : edge_type.data(),
                     numNodes(),
                     numEdges(),
                     label};
  }
};

}  // namespace autoglm::core::graph
