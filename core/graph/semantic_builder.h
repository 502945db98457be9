#pragma once
// The semantic graph builder (graph.builder: semantic): the co-occurrence
// graph (graph_builder.h) plus
//   - syntax edges: Link Grammar links between the words of each sentence
//     (sentences longer than graph.parse_window words, and unpunctuated text,
//     are parsed in windows of that many words), typed by link class
//     (kSyntaxEdgeBase + syntaxLinkClass), both directions, weight = count;
//   - concept nodes: a word's WordNet senses and their hypernyms, as nodes whose
//     tokens ("wn:n:02084071") are in the vocabulary, so that documents sharing
//     a concept share its embedding; word <-> sense edges (kSenseEdge) and
//     sense <-> hypernym edges (kHypernymEdge). A concept is in the vocabulary
//     when at least graph.min_concept_words vocabulary words reach it
//     (conceptTokens, called when the vocabulary is built on the training split).
// Parsing is bounded by graph.parse_seconds per window; a window over it, or
// without a linkage, adds no syntax edges and is counted (parseStats).

#include <atomic>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/graph/graph_builder.h"
#include "core/graph/graph_types.h"

namespace autoglm::core::semantic {
class LinkParser;
}

namespace autoglm::core::graph {

// The concept tokens to append to a vocabulary of these word tokens, sorted.
std::vector<std::string> conceptTokens(const std::vector<std::string>& vocab_tokens, const GraphConfig& cfg);

// Where parsing stands, summed over every document built so far.
struct SemanticStats {
  int64_t documents = 0, windows = 0, linked = 0, timed_out = 0, unparsed = 0, syntax_edges = 0,
          concept_nodes = 0;
};

class SemanticGraphBuilder final : public GraphBuilder {
 public:
  SemanticGraphBuilder(GraphConfig cfg, const text::Vocab& vocab);
  ~SemanticGraphBuilder() override;
  Graph buildDocument(const Document& doc) const override;
  std::string name() const override { return "semantic"; }
  uint64_t fingerprint() const override;
  SemanticStats stats() const;
  int64_t conceptsInVocabulary() const { return num_concepts_; }

 private:
  struct ConceptLink {
    int64_t from;  // the word's own id, or a concept token
    int64_t to;    // a concept token
    EdgeType type;
  };
  void addSyntax(const Document& doc, class GraphAssembly& a) const;
  void addConcepts(class GraphAssembly& a) const;

  GraphConfig cfg_;
  const text::Vocab& vocab_;
  std::unique_ptr<semantic::LinkParser> parser_;
  std::unordered_map<int64_t, std::vector<ConceptLink>> concepts_;  // word id -> links
  int64_t num_concepts_ = 0;
  mutable std::atomic<int64_t> documents_{0}, windows_{0}, linked_{0}, timed_out_{0}, unparsed_{0},
      syntax_edges_{0}, concept_nodes_{0};
};

}  // namespace autoglm::core::graph
