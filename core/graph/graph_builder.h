#pragma once
// Turns a document's tokens into a graph. GraphBuilder is the seam for other
// constructions; makeGraphBuilder picks one:
//   cooccurrence  (below) word nodes and windowed co-occurrence edges;
//   semantic      (semantic_builder.h) the same, plus Link Grammar syntax
//                 edges typed by link and WordNet concept nodes.
//
// CooccurrenceGraphBuilder:
//   - nodes: the distinct tokens of the first max_doc_len tokens, in order of first
//     occurrence, plus (context_node) a trailing <doc> node;
//   - edges: tokens at positions i < j with j - i < window and different ids are
//     linked in both directions; the weight is the number of such co-occurrences;
//   - context node: linked to and from every word node, weight 1;
//   - self loops (self_loops): weight 1 on every node, the context node included.
// Node and edge types (graph_types.h) say which rule made each.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/graph/graph.h"
#include "core/text/tokenizer.h"
#include "core/text/vocab.h"
#include "core/yaml_config.h"

namespace autoglm::core::graph {

enum class BuilderKind { kCooccurrence, kSemantic };
constexpr std::array<EnumName<BuilderKind>, 2> enumNames(BuilderKind) {
  return {{{BuilderKind::kCooccurrence, "cooccurrence"}, {BuilderKind::kSemantic, "semantic"}}};
}

struct GraphConfig {
  BuilderKind builder = BuilderKind::kCooccurrence;
  int64_t window = 3;
  int64_t max_doc_len = 512;
  bool context_node = true;
  bool self_loops = true;
  // The semantic builder's parts (builder: semantic).
  bool syntax = true;              // Link Grammar links as typed edges
  int64_t parse_window = 24;       // words per parse; longer sentences are cut into windows
  double parse_seconds = 0.5;      // time limit per window; over it, the window adds no links
  bool wordnet = true;             // WordNet concept nodes
  int64_t senses = 1;              // senses per word and part of speech
  int64_t hypernym_depth = 1;      // hypernym levels above each sense
  int64_t min_concept_words = 2;   // a concept becomes a node when this many vocabulary words reach it

  template <class V>
  void visit(V& v) {
    v.field("builder", builder);
    v.field("window", window, check::atLeast<int64_t>(1));
    v.field("max_doc_len", max_doc_len, check::atLeast<int64_t>(1));
    v.field("context_node", context_node);
    v.field("self_loops", self_loops);
    v.field("syntax", syntax);
    v.field("parse_window", parse_window, check::atLeast<int64_t>(2));
    v.field("parse_seconds", parse_seconds, check::greaterThan(0.0));
    v.field("wordnet", wordnet);
    v.field("senses", senses, check::atLeast<int64_t>(1));
    v.field("hypernym_depth", hypernym_depth, check::atLeast<int64_t>(0));
    v.field("min_concept_words", min_concept_words, check::atLeast<int64_t>(1));
  }
};

// What a builder reads: the tokens of one document, their vocabulary ids and
// where its sentences end.
struct Document {
  std::vector<int64_t> ids;            // vocabulary id per token
  std::vector<std::string> words;      // the tokens themselves; may be empty (then unknown to the parser)
  std::vector<int64_t> sentence_ends;  // exclusive ends in tokens; empty = one sentence
};

class GraphBuilder {
 public:
  virtual ~GraphBuilder() = default;
  virtual Graph buildDocument(const Document& doc) const = 0;
  Graph build(const std::vector<int64_t>& token_ids) const { return buildDocument(Document{token_ids, {}, {}}); }
  virtual std::string name() const = 0;
  // Changes whenever the output for the same input would change (cache key).
  virtual uint64_t fingerprint() const = 0;
};

class CooccurrenceGraphBuilder final : public GraphBuilder {
 public:
  explicit CooccurrenceGraphBuilder(GraphConfig cfg);
  Graph buildDocument(const Document& doc) const override;
  std::string name() const override { return "cooccurrence"; }
  uint64_t fingerprint() const override;

 private:
  GraphConfig cfg_;
};

// The builder `cfg.builder` names. The semantic builder needs the vocabulary
// (its concept tokens); the co-occurrence builder ignores it.
std::unique_ptr<GraphBuilder> makeGraphBuilder(const GraphConfig& cfg, const text::Vocab* vocab = nullptr);

// The cache fingerprint of a graph configuration, without building anything
// (GraphBuilder::fingerprint of the builder it makes).
uint64_t builderFingerprint(const GraphConfig& cfg);

// A document's graph input from its raw text (tokens, ids, sentence ends).
Document makeDocument(std::string_view text, const text::Tokenizer& tokenizer, const text::Vocab& vocab);

}  // namespace autoglm::core::graph
