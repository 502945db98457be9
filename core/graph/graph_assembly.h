#pragma once
// Builders assemble a typed graph here: word nodes from a document's first
// tokens, further nodes, and typed edges whose weights add up when the same
// (dst, src, type) edge is added again. finish() emits the edges sorted by
// (dst, src, type), the order graph.h requires.

#include <cstdint>
#include <map>
#include <tuple>
#include <vector>

#include "core/graph/graph.h"
#include "core/graph/graph_types.h"

namespace autoglm::core::graph {

class GraphAssembly {
 public:
  // Word nodes: the distinct ids of ids[0, min(size, max_len)), in order of first occurrence.
  GraphAssembly(const std::vector<int64_t>& ids, int64_t max_len);

  size_t length() const { return pos_node_.size(); }                // tokens used
  int32_t nodeAt(size_t pos) const { return pos_node_[pos]; }      // the node of token `pos`
  int32_t numWords() const { return num_words_; }
  int32_t numNodes() const { return static_cast<int32_t>(g_.tokens.size()); }
  int64_t token(int32_t node) const { return g_.tokens[static_cast<size_t>(node)]; }

  int32_t addNode(int64_t token, NodeType type);
  void addEdge(int32_t dst, int32_t src, EdgeType type, float weight);
  void addBothWays(int32_t a, int32_t b, EdgeType type, float weight) {
    addEdge(a, b, type, weight);
    addEdge(b, a, type, weight);
  }
  // Co-occurrence within `window` tokens, the <doc> context node, self loops:
  // the co-occurrence builder's rules (graph_builder.h).
  void addCooccurrence(int64_t window);
  int32_t addContextNode();
  void addSelfLoops();

  Graph finish();

 private:
  Graph g_;
  std::vector<int32_t> pos_node_;
  int32_t num_words_ = 0;
  std::map<std::tuple<int32_t, int32_t, uint8_t>, float> edges_;  // (dst, src, type) -> weight
};

}  // namespace autoglm::core::graph
