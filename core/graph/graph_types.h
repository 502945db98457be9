#pragma once
// Node and edge types of a typed graph (the semantic builder's; the
// co-occurrence builder uses the first few). Stored per node and per edge in
// the graph cache, carried into batches, and read by relation-aware attention
// as an index into its edge-type embedding.

#include <cstdint>

namespace autoglm::core::graph {

enum NodeType : uint8_t {
  kWordNode = 0,
  kContextNode = 1,  // the document's <doc> node
  kConceptNode = 2,  // a WordNet synset (a word's sense or a hypernym)
  kNumNodeTypes = 3,
};

enum EdgeType : uint8_t {
  kCooccurrenceEdge = 0,
  kSelfLoopEdge = 1,
  kContextEdge = 2,     // word <-> <doc>
  kSenseEdge = 3,       // word <-> its synset
  kHypernymEdge = 4,    // synset <-> its hypernym
  kSyntaxEdgeBase = 5,  // Link Grammar links: kSyntaxEdgeBase + syntaxLinkClass(type)
};

// Link Grammar link types are grouped by their leading upper-case letters
// (S, O, MV, ...): the classes listed in semantic/syntax_classes, plus one for
// every other type. The last type, kLearnedEdge, is never stored: the model
// adds such edges by the similarity of node states (model.learned_edges,
// learned_edges.h). kNumEdgeTypes covers all of them.
constexpr int kNumSyntaxClasses = 24;
constexpr int kLearnedEdge = kSyntaxEdgeBase + kNumSyntaxClasses;
constexpr int kNumEdgeTypes = kLearnedEdge + 1;

}  // namespace autoglm::core::graph
