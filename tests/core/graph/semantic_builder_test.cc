#include "core/graph/semantic_builder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "core/graph/graph_types.h"
#include "core/semantic/syntax_classes.h"

namespace autoglm::core::graph {
namespace {

// A vocabulary of hand-picked words with the concepts they share appended.
text::Vocab vocabWithConcepts(const GraphConfig& cfg) {
  std::vector<std::string> tokens = {"<pad>", "<unk>", "<doc>", "the", "dog", "chased", "cat", "a", "ran"};
  const std::vector<std::string> concepts = conceptTokens(tokens, cfg);
  tokens.insert(tokens.end(), concepts.begin(), concepts.end());
  return text::Vocab::fromTokens(tokens);
}

GraphConfig semanticConfig() {
  GraphConfig cfg;
  cfg.builder = BuilderKind::kSemantic;
  cfg.hypernym_depth = 2;  // dog -> canine -> carnivore <- feline <- cat
  return cfg;
}

Document doc(const text::Vocab& vocab, std::vector<std::string> words, std::vector<int64_t> ends = {}) {
  Document d;
  d.words = std::move(words);
  d.ids = vocab.encode(d.words);
  d.sentence_ends = std::move(ends);
  return d;
}

bool hasEdge(const Graph& g, int32_t a, int32_t b, int type) {
  for (size_t e = 0; e < g.src.size(); ++e) {
    if (g.src[e] == a && g.dst[e] == b && g.edge_type[e] == type) return true;
  }
  return false;
}

int32_t nodeOf(const Graph& g, int64_t token) {
  auto it = std::find(g.tokens.begin(), g.tokens.end(), token);
  return it == g.tokens.end() ? -1 : static_cast<int32_t>(it - g.tokens.begin());
}

TEST(SemanticGraphBuilder, SyntaxLinksBecomeTypedEdgesBothWays) {
  const GraphConfig cfg = semanticConfig();
  const text::Vocab vocab = vocabWithConcepts(cfg);
  const SemanticGraphBuilder b(cfg, vocab);
  const Graph g = b.buildDocument(doc(vocab, {"the", "dog", "chased", "the", "cat"}));
  const int32_t dog = nodeOf(g, vocab.id("dog")), chased = nodeOf(g, vocab.id("chased")),
                cat = nodeOf(g, vocab.id("cat"));
  const int subject = kSyntaxEdgeBase + semantic::syntaxLinkClass("Ss"),
            object = kSyntaxEdgeBase + semantic::syntaxLinkClass("Os");
  EXPECT_TRUE(hasEdge(g, dog, chased, subject));
  EXPECT_TRUE(hasEdge(g, chased, dog, subject));
  EXPECT_TRUE(hasEdge(g, chased, cat, object));
  EXPECT_TRUE(hasEdge(g, cat, chased, object));
  EXPECT_FALSE(hasEdge(g, dog, cat, subject));
  // Co-occurrence edges are still there, with their own type.
  EXPECT_TRUE(hasEdge(g, dog, chased, kCooccurrenceEdge));
  // Sorted by dst, as graph.h requires.
  EXPECT_TRUE(std::is_sorted(g.dst.begin(), g.dst.end()));
  EXPECT_GT(b.stats().syntax_edges, 0);
}

TEST(SemanticGraphBuilder, DocumentsSharingAConceptShareItsNode) {
  const GraphConfig cfg = semanticConfig();
  const text::Vocab vocab = vocabWithConcepts(cfg);
  ASSERT_GT(vocab.size(), 9) << "no concept shared by dog and cat at depth 2";
  const SemanticGraphBuilder b(cfg, vocab);
  const Graph gd = b.buildDocument(doc(vocab, {"a", "dog", "ran"}));
  const Graph gc = b.buildDocument(doc(vocab, {"a", "cat", "ran"}));
  std::set<int64_t> dog_concepts, cat_concepts;
  for (size_t v = 0; v < gd.tokens.size(); ++v) {
    if (gd.node_type[v] == kConceptNode) dog_concepts.insert(gd.tokens[v]);
  }
  for (size_t v = 0; v < gc.tokens.size(); ++v) {
    if (gc.node_type[v] == kConceptNode) cat_concepts.insert(gc.tokens[v]);
  }
  std::vector<int64_t> shared;
  std::set_intersection(dog_concepts.begin(), dog_concepts.end(), cat_concepts.begin(), cat_concepts.end(),
                        std::back_inserter(shared));
  ASSERT_FALSE(shared.empty());
  for (int64_t t : shared) EXPECT_EQ(vocab.token(t).rfind("wn:", 0), 0u) << vocab.token(t);
  // The word reaches the shared concept through a typed edge (sense or hypernym).
  const int32_t dog = nodeOf(gd, vocab.id("dog")), concept_node = nodeOf(gd, shared[0]);
  EXPECT_TRUE(hasEdge(gd, dog, concept_node, kSenseEdge) || hasEdge(gd, dog, concept_node, kHypernymEdge));
  EXPECT_EQ(gd.node_type[static_cast<size_t>(nodeOf(gd, text::Vocab::kDoc))], kContextNode);
  EXPECT_EQ(gd.node_type[static_cast<size_t>(dog)], kWordNode);
}

TEST(SemanticGraphBuilder, BadInputIsNeverFatal) {
  const GraphConfig cfg = semanticConfig();
  const text::Vocab vocab = vocabWithConcepts(cfg);
  const SemanticGraphBuilder b(cfg, vocab);
  EXPECT_NO_THROW(b.buildDocument(doc(vocab, {})));
  const Graph g = b.buildDocument(doc(vocab, {"caf\xe9", "na\xc3\xafve", "\xff\xfe", "dog"}, {2, 4}));
  EXPECT_EQ(g.node_type.size(), g.tokens.size());
  EXPECT_EQ(g.edge_type.size(), g.src.size());
  // Ids without words (a graph built from ids only) parse the vocabulary's tokens.
  EXPECT_NO_THROW(b.build(vocab.encode({"the", "dog", "chased", "the", "cat"})));
}

TEST(SemanticGraphBuilder, WithoutSyntaxOrWordNetItIsTheCooccurrenceGraph) {
  GraphConfig cfg = semanticConfig();
  cfg.syntax = false;
  cfg.wordnet = false;
  const text::Vocab vocab = vocabWithConcepts(GraphConfig{});
  const Graph s = SemanticGraphBuilder(cfg, vocab).build({3, 4, 5, 3, 6});
  const Graph c = CooccurrenceGraphBuilder(cfg).build({3, 4, 5, 3, 6});
  EXPECT_EQ(s.tokens, c.tokens);
  EXPECT_EQ(s.src, c.src);
  EXPECT_EQ(s.dst, c.dst);
  EXPECT_EQ(s.weight, c.weight);
  EXPECT_EQ(s.edge_type, c.edge_type);
  EXPECT_NE(builderFingerprint(cfg), builderFingerprint(GraphConfig{}));
}

}  // namespace
}  // namespace autoglm::core::graph
