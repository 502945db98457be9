#include "core/graph/semantic_builder.h"

#include <algorithm>
#include <map>
#include <set>

#include "core/graph/graph_assembly.h"
#include "core/hash.h"
#include "core/semantic/link_parser.h"
#include "core/semantic/wordnet.h"

namespace autoglm::core::graph {
static_assert(kNumSyntaxClasses == semantic::kNumSyntaxClasses, "graph_types.h and syntax_classes.h disagree");

namespace {

constexpr char kConceptPrefix[] = "wn:";

bool isWordToken(int64_t id, const std::string& token) {
  return id >= text::Vocab::kNumReserved && token.rfind(kConceptPrefix, 0) != 0;
}

// Every concept a word reaches: its senses and their hypernyms.
std::set<std::string> reached(const semantic::Concepts& c) {
  std::set<std::string> out(c.senses.begin(), c.senses.end());
  for (const auto& [child, parent] : c.hypernyms) out.insert(parent);
  return out;
}

}  // namespace

std::vector<std::string> conceptTokens(const std::vector<std::string>& vocab_tokens, const GraphConfig& cfg) {
  if (!cfg.wordnet) return {};
  const semantic::WordNet& wn = semantic::WordNet::instance();
  std::map<std::string, int64_t> words_per_concept;
  for (size_t i = 0; i < vocab_tokens.size(); ++i) {
    if (!isWordToken(static_cast<int64_t>(i), vocab_tokens[i])) continue;
    const auto c = wn.lookup(vocab_tokens[i], static_cast<int>(cfg.senses), static_cast<int>(cfg.hypernym_depth));
    for (const std::string& key : reached(c)) ++words_per_concept[key];
  }
  std::vector<std::string> out;
  for (const auto& [key, n] : words_per_concept) {
    if (n >= cfg.min_concept_words) out.push_back(key);
  }
  return out;
}

SemanticGraphBuilder::SemanticGraphBuilder(GraphConfig cfg, const text::Vocab& vocab)
    : cfg_(std::move(cfg)), vocab_(vocab) {
  if (cfg_.syntax) {
    semantic::ParseOptions po;
    po.window_words = cfg_.parse_window;
    po.seconds_per_window = cfg_.parse_seconds;
    parser_ = std::make_unique<semantic::LinkParser>(po);
  }
  if (!cfg_.wordnet) return;
  // The concept links of every vocabulary word, kept where the concept is in
  // the vocabulary. A sense that is not (too rare) passes its hypernym links on
  // to the word itself.
  const semantic::WordNet& wn = semantic::WordNet::instance();
  const std::vector<std::string>& tokens = vocab.tokens();
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].rfind(kConceptPrefix, 0) == 0) ++num_concepts_;
  }
  if (num_concepts_ == 0) return;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const auto word = static_cast<int64_t>(i);
    if (!isWordToken(word, tokens[i])) continue;
    const auto c = wn.lookup(tokens[i], static_cast<int>(cfg_.senses), static_cast<int>(cfg_.hypernym_depth));
    std::vector<ConceptLink> links;
    std::map<std::string, int64_t> node_of;  // concept key -> the token standing for it here
    for (const std::string& s : c.senses) {
      const int64_t id = vocab.id(s);
      node_of[s] = id == text::Vocab::kUnk ? word : id;
      if (id != text::Vocab::kUnk) links.push_back({word, id, kSenseEdge});
    }
    for (const auto& [child, parent] : c.hypernyms) {
      const int64_t pid = vocab.id(parent);
      auto it = node_of.find(child);
      const int64_t from = it == node_of.end() ? word : it->second;
      node_of.emplace(parent, pid == text::Vocab::kUnk ? from : pid);
      if (pid != text::Vocab::kUnk && from != pid) links.push_back({from, pid, kHypernymEdge});
    }
    if (!links.empty()) concepts_.emplace(word, std::move(links));
  }
}

SemanticGraphBuilder::~SemanticGraphBuilder() = default;

void SemanticGraphBuilder::addSyntax(const Document& doc, GraphAssembly& a) const {
  const size_t len = a.length();
  std::vector<std::vector<std::string>> sentences;
  size_t begin = 0;
  std::vector<int64_t> ends = doc.sentence_ends;
  if (ends.empty() || ends.back() < static_cast<int64_t>(len)) ends.push_back(static_cast<int64_t>(len));
  for (int64_t e : ends) {
    const size_t end = std::min(static_cast<size_t>(e), len);
    if (end <= begin) continue;
    std::vector<std::string> s;
    for (size_t i = begin; i < end; ++i) {
      s.push_back(i < doc.words.size() ? doc.words[i] : vocab_.token(doc.ids[i]));
    }
    sentences.push_back(std::move(s));
    begin = end;
  }
  semantic::ParseStats st;
  const std::vector<semantic::SyntaxLink> links = parser_->parse(sentences, &st);
  int64_t added = 0;
  for (const auto& l : links) {
    if (l.left < 0 || l.right < 0 || static_cast<size_t>(l.right) >= len) continue;
    const int32_t u = a.nodeAt(static_cast<size_t>(l.left)), v = a.nodeAt(static_cast<size_t>(l.right));
    if (u == v) continue;
    const auto type = static_cast<EdgeType>(kSyntaxEdgeBase + semantic::syntaxLinkClass(l.type));
    a.addBothWays(u, v, type, 1.0f);
    ++added;
  }
  windows_ += st.windows;
  linked_ += st.linked;
  timed_out_ += st.timed_out;
  unparsed_ += st.unparsed;
  syntax_edges_ += added;
}

void SemanticGraphBuilder::addConcepts(GraphAssembly& a) const {
  std::unordered_map<int64_t, int32_t> node_of;  // token -> node in this graph
  for (int32_t v = 0; v < a.numWords(); ++v) node_of.emplace(a.token(v), v);
  auto nodeFor = [&](int64_t token) {
    auto it = node_of.find(token);
    if (it != node_of.end()) return it->second;
    const int32_t n = a.addNode(token, kConceptNode);
    node_of.emplace(token, n);
    ++concept_nodes_;
    return n;
  };
  const int32_t words = a.numWords();
  for (int32_t v = 0; v < words; ++v) {
    auto it = concepts_.find(a.token(v));
    if (it == concepts_.end()) continue;
    for (const ConceptLink& l : it->second) {
      const int32_t from = l.from == a.token(v) ? v : nodeFor(l.from);
      a.addBothWays(from, nodeFor(l.to), l.type, 1.0f);
    }
  }
}

Graph SemanticGraphBuilder::buildDocument(const Document& doc) const {
  GraphAssembly a(doc.ids, cfg_.max_doc_len);
  a.addCooccurrence(cfg_.window);
  if (parser_) addSyntax(doc, a);
  if (cfg_.context_node) a.addContextNode();
  if (!concepts_.empty()) addConcepts(a);
  if (cfg_.self_loops) a.addSelfLoops();
  ++documents_;
  return a.finish();
}

SemanticStats SemanticGraphBuilder::stats() const {
  return SemanticStats{documents_.load(), windows_.load(),      linked_.load(),       timed_out_.load(),
                       unparsed_.load(),  syntax_edges_.load(), concept_nodes_.load()};
}

uint64_t SemanticGraphBuilder::fingerprint() const { return builderFingerprint(cfg_); }

uint64_t builderFingerprint(const GraphConfig& cfg) {
  Fnv1a h;
  h.add(std::string(enumName(cfg.builder)));
  h.addValue(cfg.window);
  h.addValue(cfg.max_doc_len);
  h.addValue(cfg.context_node);
  h.addValue(cfg.self_loops);
  if (cfg.builder == BuilderKind::kSemantic) {
    h.addValue(cfg.syntax);
    h.addValue(cfg.parse_window);
    h.addValue(cfg.parse_seconds);
    h.addValue(cfg.wordnet);
    h.addValue(cfg.senses);
    h.addValue(cfg.hypernym_depth);
    h.addValue(cfg.min_concept_words);
  }
  return h.value();
}

}  // namespace autoglm::core::graph
