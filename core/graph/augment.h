#pragma once
// Random views of a graph for contrastive pre-training: each function reads a
// GraphView and returns an owning Graph, drawing from the generator it is
// given, so the same seed gives the same view. Edge order stays sorted by
// (dst, src) as graph.h requires (edges are only removed); node and edge
// types, weights and the label are carried through.

#include <cstdint>
#include <random>

#include "core/graph/graph.h"
#include "core/text/vocab.h"

namespace autoglm::core::graph {

// An owning copy of `g`.
Graph copyGraph(const GraphView& g);

// Drops each edge pair with probability p: an edge (a -> b) and its reverse
// (b -> a) of the same type are kept or dropped together, so an undirected
// co-occurrence stays undirected (an edge without a reverse is decided alone).
// Self loops (src == dst) are always kept, so p = 1 leaves exactly the self
// loops. Takes one number from `gen`; each pair's decision is a hash of it and
// the pair.
Graph dropEdges(const GraphView& g, double p, std::mt19937_64& gen);

// Replaces each word node's token by `mask_token` with probability p (one draw
// per word node). The <doc> context node (node type kContextNode, or token
// text::Vocab::kDoc in an untyped graph) and concept nodes are never masked.
Graph maskNodes(const GraphView& g, double p, int64_t mask_token, std::mt19937_64& gen);

// Both augmentations of a pre-training view: edges dropped, then tokens masked.
struct AugmentOptions {
  double edge_drop = 0.0;
  double node_mask = 0.0;
  int64_t mask_token = text::Vocab::kUnk;
};
Graph augment(const GraphView& g, const AugmentOptions& o, std::mt19937_64& gen);

}  // namespace autoglm::core::graph
