#include "core/graph/corpus_graph.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "core/log.h"
#include "core/semantic/wordnet.h"

namespace autoglm::core::graph {

namespace {

struct Edge {
  int64_t a, b;  // a < b, node ids
  double w;
};

// Tokens seen min_count times, by decreasing count then alphabetically.
std::vector<std::string> corpusVocabulary(const std::vector<std::vector<std::string>>& docs, int64_t min_count) {
  std::unordered_map<std::string, int64_t> counts;
  for (const auto& d : docs) {
    for (const auto& t : d) ++counts[t];
  }
  std::vector<std::pair<std::string, int64_t>> kept;
  for (auto& [t, c] : counts) {
    if (c >= min_count) kept.emplace_back(t, c);
  }
  std::sort(kept.begin(), kept.end(), [](const auto& x, const auto& y) {
    return x.second != y.second ? x.second > y.second : x.first < y.first;
  });
  std::vector<std::string> words;
  words.reserve(kept.size());
  for (auto& k : kept) words.push_back(std::move(k.first));
  return words;
}

// Windows holding each word (n_i), position pairs per word pair (n_ij) and the
// number of windows (W), counted in closed form per document: positions p < q
// share the windows starting in [max(0, q - window + 1), min(p, len - window)].
struct WindowCounts {
  std::vector<int64_t> windows_of;
  std::unordered_map<uint64_t, int64_t> pairs;  // (a << 32 | b), a < b
  int64_t windows = 0;
};

WindowCounts countWindows(const std::vector<std::vector<int64_t>>& ids, int64_t num_words, int64_t window) {
  WindowCounts c;
  c.windows_of.assign(static_cast<size_t>(num_words), 0);
  std::unordered_map<int64_t, int64_t> last_end;  // word -> end of its last counted window interval
  for (const auto& d : ids) {
    const auto len = static_cast<int64_t>(d.size());
    if (len == 0) continue;
    const int64_t last_start = std::max<int64_t>(0, len - window);
    c.windows += last_start + 1;
    last_end.clear();
    for (int64_t p = 0; p < len; ++p) {
      // Windows holding position p: [lo, hi]; a word's intervals come in order.
      const int64_t lo = std::max<int64_t>(0, p - window + 1), hi = std::min(p, last_start);
      auto [it, fresh] = last_end.emplace(d[static_cast<size_t>(p)], -1);
      const int64_t from = std::max(lo, it->second + 1);
      if (hi >= from) c.windows_of[static_cast<size_t>(d[static_cast<size_t>(p)])] += hi - from + 1;
      it->second = std::max(it->second, hi);
      for (int64_t q = p + 1; q < len && q - p < window; ++q) {
        const int64_t shared = std::min(p, last_start) - std::max<int64_t>(0, q - window + 1) + 1;
        const int64_t a = d[static_cast<size_t>(p)], b = d[static_cast<size_t>(q)];
        if (a == b || shared <= 0) continue;
        const uint64_t key = (static_cast<uint64_t>(std::min(a, b)) << 32) | static_cast<uint64_t>(std::max(a, b));
        c.pairs[key] += shared;
      }
    }
  }
  return c;
}

void addPmiEdges(const WindowCounts& c, int64_t word0, std::vector<Edge>* edges, int64_t* count) {
  const auto w = static_cast<double>(c.windows);
  for (const auto& [key, n] : c.pairs) {
    const auto a = static_cast<int64_t>(key >> 32), b = static_cast<int64_t>(key & 0xffffffffULL);
    const double pmi = std::log(static_cast<double>(n) * w /
                                (static_cast<double>(c.windows_of[static_cast<size_t>(a)]) *
                                 static_cast<double>(c.windows_of[static_cast<size_t>(b)])));
    if (pmi <= 0.0) continue;
    edges->push_back({word0 + a, word0 + b, pmi});
    ++*count;
  }
}

void addTfIdfEdges(const std::vector<std::vector<int64_t>>& ids, int64_t num_words, int64_t word0,
                   std::vector<Edge>* edges, int64_t* count) {
  std::vector<int64_t> df(static_cast<size_t>(num_words), 0);
  std::vector<std::map<int64_t, int64_t>> tf(ids.size());
  for (size_t d = 0; d < ids.size(); ++d) {
    for (int64_t w : ids[d]) ++tf[d][w];
    for (const auto& [w, n] : tf[d]) ++df[static_cast<size_t>(w)];
  }
  const auto docs = static_cast<double>(ids.size());
  for (size_t d = 0; d < ids.size(); ++d) {
    for (const auto& [w, n] : tf[d]) {
      const double idf = std::log(docs / static_cast<double>(df[static_cast<size_t>(w)]));
      // A word in every document has idf 0; keep the edge, barely.
      edges->push_back({static_cast<int64_t>(d), word0 + w, std::max(static_cast<double>(n) * idf, 1e-6)});
      ++*count;
    }
  }
}

// Concepts reached by at least min_words words become nodes after the words.
void addConcepts(const std::vector<std::string>& words, const CorpusGraphConfig& cfg, int64_t word0,
                 CorpusGraph* g, std::vector<Edge>* edges) {
  const auto& wn = semantic::WordNet::instance();
  std::vector<std::vector<std::string>> reached(words.size());
  std::unordered_map<std::string, int64_t> users;
  for (size_t i = 0; i < words.size(); ++i) {
    const semantic::Concepts c = wn.lookup(words[i], 1, static_cast<int>(cfg.hypernym_depth));
    std::unordered_set<std::string> keys(c.senses.begin(), c.senses.end());
    for (const auto& [child, parent] : c.hypernyms) keys.insert(parent);
    reached[i].assign(keys.begin(), keys.end());
    std::sort(reached[i].begin(), reached[i].end());
    for (const auto& k : reached[i]) ++users[k];
  }
  for (const auto& [k, n] : users) {
    if (n >= cfg.min_concept_words) g->concepts.push_back(k);
  }
  std::sort(g->concepts.begin(), g->concepts.end());
  std::unordered_map<std::string, int64_t> node;
  const int64_t concept0 = word0 + static_cast<int64_t>(words.size());
  for (size_t i = 0; i < g->concepts.size(); ++i) node[g->concepts[i]] = concept0 + static_cast<int64_t>(i);
  for (size_t i = 0; i < words.size(); ++i) {
    for (const auto& k : reached[i]) {
      auto it = node.find(k);
      if (it == node.end()) continue;
      edges->push_back({word0 + static_cast<int64_t>(i), it->second, cfg.concept_weight});
      ++g->word_concept_edges;
    }
  }
}

// Both directions of every edge plus self loops, normalised, as CSR.
void assembleCsr(const std::vector<Edge>& edges, int64_t n, CorpusGraph* g) {
  std::vector<std::tuple<int64_t, int64_t, double>> t;
  t.reserve(edges.size() * 2 + static_cast<size_t>(n));
  for (const Edge& e : edges) {
    t.emplace_back(e.a, e.b, e.w);
    t.emplace_back(e.b, e.a, e.w);
  }
  for (int64_t i = 0; i < n; ++i) t.emplace_back(i, i, 1.0);
  std::sort(t.begin(), t.end());
  std::vector<double> degree(static_cast<size_t>(n), 0.0);
  for (const auto& [r, c, w] : t) degree[static_cast<size_t>(r)] += w;
  g->row_ptr.assign(static_cast<size_t>(n) + 1, 0);
  g->col.reserve(t.size());
  g->val.reserve(t.size());
  for (const auto& [r, c, w] : t) {
    ++g->row_ptr[static_cast<size_t>(r) + 1];
    g->col.push_back(c);
    g->val.push_back(static_cast<float>(w / std::sqrt(degree[static_cast<size_t>(r)] * degree[static_cast<size_t>(c)])));
  }
  for (size_t i = 1; i < g->row_ptr.size(); ++i) g->row_ptr[i] += g->row_ptr[i - 1];
}

}  // namespace

float CorpusGraph::at(int64_t r, int64_t c) const {
  const auto b = col.begin() + row_ptr[static_cast<size_t>(r)], e = col.begin() + row_ptr[static_cast<size_t>(r) + 1];
  const auto it = std::lower_bound(b, e, c);
  return it != e && *it == c ? val[static_cast<size_t>(it - col.begin())] : 0.0f;
}

CorpusGraph buildCorpusGraph(const std::vector<std::vector<std::string>>& docs, const CorpusGraphConfig& cfg) {
  CorpusGraph g;
  g.num_docs = static_cast<int64_t>(docs.size());
  g.words = corpusVocabulary(docs, cfg.min_count);
  std::unordered_map<std::string, int64_t> id;
  for (size_t i = 0; i < g.words.size(); ++i) id.emplace(g.words[i], static_cast<int64_t>(i));
  std::vector<std::vector<int64_t>> ids(docs.size());
  int64_t wordless = 0;
  for (size_t d = 0; d < docs.size(); ++d) {
    for (const auto& t : docs[d]) {
      if (auto it = id.find(t); it != id.end()) ids[d].push_back(it->second);
    }
    if (ids[d].empty()) ++wordless;
  }
  if (wordless > 0) log::warn0("corpus graph: {} documents have no vocabulary word; they keep only a self loop", wordless);
  const auto num_words = static_cast<int64_t>(g.words.size());
  const int64_t word0 = g.num_docs;
  std::vector<Edge> edges;
  addPmiEdges(countWindows(ids, num_words, cfg.window), word0, &edges, &g.word_word_edges);
  addTfIdfEdges(ids, num_words, word0, &edges, &g.doc_word_edges);
  if (cfg.wordnet) addConcepts(g.words, cfg, word0, &g, &edges);
  assembleCsr(edges, word0 + num_words + static_cast<int64_t>(g.concepts.size()), &g);
  return g;
}

}  // namespace autoglm::core::graph
