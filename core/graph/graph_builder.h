#pragma once
// Turns a document's token ids into a graph. GraphBuilder is the seam for other
// constructions (learned edges, dependency trees); makeGraphBuilder picks one.
//
// CooccurrenceGraphBuilder:
//   - nodes: the distinct tokens of the first max_doc_len tokens, in order of first
//     occurrence, plus (context_node) a trailing <doc> node;
//   - edges: tokens at positions i < j with j - i < window and different ids are
//     linked in both directions; the weight is the number of such co-occurrences;
//   - context node: linked to and from every word node, weight 1;
//   - self loops (self_loops): weight 1 on every node, the context node included.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/graph/graph.h"
#include "core/yaml_config.h"

namespace autoglm::core::graph {

enum class BuilderKind { kCooccurrence };
constexpr std::array<EnumName<BuilderKind>, 1> enumNames(BuilderKind) {
  return {{{BuilderKind::kCooccurrence, "cooccurrence"}}};
}

struct GraphConfig {
  BuilderKind builder = BuilderKind::kCooccurrence;
  int64_t window = 3;
  int64_t max_doc_len = 512;
  bool context_node = true;
  bool self_loops = true;

  template <class V>
  void visit(V& v) {
    v.field("builder", builder);
    v.field("window", window, check::atLeast<int64_t>(1));
    v.field("max_doc_len", max_doc_len, check::atLeast<int64_t>(1));
    v.field("context_node", context_node);
    v.field("self_loops", self_loops);
  }
};

class GraphBuilder {
 public:
  virtual ~GraphBuilder() = default;
  virtual Graph build(const std::vector<int64_t>& token_ids) const = 0;
  virtual std::string name() const = 0;
  // Changes whenever the output for the same input would change (cache key).
  virtual uint64_t fingerprint() const = 0;
};

class CooccurrenceGraphBuilder final : public GraphBuilder {
 public:
  explicit CooccurrenceGraphBuilder(GraphConfig cfg);
  Graph build(const std::vector<int64_t>& token_ids) const override;
  std::string name() const override { return "cooccurrence"; }
  uint64_t fingerprint() const override;

 private:
  GraphConfig cfg_;
};

std::unique_ptr<GraphBuilder> makeGraphBuilder(const GraphConfig& cfg);

}  // namespace autoglm::core::graph
