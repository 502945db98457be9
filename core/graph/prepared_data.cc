#include "core/graph/prepared_data.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <chrono>
#include <filesystem>
#include <random>

#include "core/error.h"
#include "core/file_io.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/graph/semantic_builder.h"
#include "core/text/text_dataset.h"
#include "core/text/word_vectors.h"

namespace autoglm::core::graph {
namespace fs = std::filesystem;

namespace {

// The settings that decide the graphs, passed around together.
struct Sources {
  const DataConfig& data;
  const text::TokenizerConfig& tokenizer;
  const text::VocabConfig& vocab;
  const GraphConfig& graph;
};


uint32_t fileCrc(const std::string& path) {
  const std::optional<std::string> bytes = readFileBytes(path);
  if (!bytes) throw DataError(path + ": cannot open");
  return crc32(bytes->data(), bytes->size());
}

uint64_t cacheFingerprint(const Sources& src) {
  const std::string corpus = dataFile(src.data, src.data.corpus, "corpus");
  const std::string labels = dataFile(src.data, src.data.labels, "labels");
  Fnv1a h;
  h.addValue(GraphStore::kVersion);
  h.addValue(fileCrc(corpus));
  h.addValue(fileCrc(labels));
  h.add(enumName(src.data.format));
  h.add(enumName(src.data.empty_documents));
  h.add(toYamlString(src.tokenizer));
  h.add(toYamlString(src.vocab));
  if (!src.vocab.vectors.empty()) h.addValue(fileCrc(src.vocab.vectors));
  h.addValue(builderFingerprint(src.graph));
  return h.value();
}

std::string cachePathFor(const DataConfig& data, uint64_t fingerprint) {
  std::string stem = fs::path(data.dir).filename().string();
  if (stem.empty()) stem = fs::path(data.dir).parent_path().filename().string();
  return (fs::path(data.cache_dir) / (stem + "-" + hex64(fingerprint) + ".graphs")).string();
}

// The vocabulary with the WordNet concepts its words reach appended.
text::Vocab withConcepts(const text::Vocab& words, const GraphConfig& graph) {
  std::vector<std::string> tokens = words.tokens();
  const std::vector<std::string> concepts = conceptTokens(tokens, graph);
  tokens.insert(tokens.end(), concepts.begin(), concepts.end());
  log::info0("vocabulary: {} words and {} WordNet concepts", words.size(), concepts.size());
  return text::Vocab::fromTokens(std::move(tokens));
}

// One graph per document on every thread, with progress for the slow builders.
void buildGraphs(const GraphBuilder& builder, const text::Vocab& vocab, const text::TextDataset& ds,
                 std::vector<Document>& docs, std::vector<Graph>* graphs) {
  const auto t0 = std::chrono::steady_clock::now();
  std::atomic<int64_t> done{0};
  std::mutex log_mu;
  auto last_log = t0;
  at::parallel_for(0, ds.size(), 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      Document& d = docs[static_cast<size_t>(i)];
      d.ids = vocab.encode(d.words);
      Graph g = builder.buildDocument(d);
      g.label = ds.labels[static_cast<size_t>(i)];
      (*graphs)[static_cast<size_t>(i)] = std::move(g);
      const int64_t n = ++done;
      const auto now = std::chrono::steady_clock::now();
      std::lock_guard<std::mutex> lock(log_mu);
      if (now - last_log > std::chrono::seconds(30)) {
        last_log = now;
        const double secs = std::chrono::duration<double>(now - t0).count();
        log::info0("preparing: {}/{} documents in {:.0f}s, about {:.0f}s left", n, ds.size(), secs,
                   secs / static_cast<double>(n) * static_cast<double>(ds.size() - n));
      }
    }
  });
  if (const auto* sem = dynamic_cast<const SemanticGraphBuilder*>(&builder)) {
    const SemanticStats st = sem->stats();
    log::info0("semantic graphs: {} parse windows ({} linked, {} unparsed, {} over the time limit), {} syntax "
               "links, {} concept nodes",
               st.windows, st.linked, st.unparsed, st.timed_out, st.syntax_edges, st.concept_nodes);
  }
}

// On the training split; with vectors, words that have one are kept (vocab.h).
text::Vocab buildVocab(const text::VocabConfig& cfg, const text::TextDataset& ds, const std::vector<Document>& docs) {
  std::vector<std::vector<std::string>> train_tokens, other_tokens;
  for (int64_t i : ds.indicesOf(text::Split::kTrain)) train_tokens.push_back(docs[static_cast<size_t>(i)].words);
  if (cfg.vectors.empty()) return text::Vocab::build(train_tokens, cfg);
  const std::unique_ptr<text::WordVectors> vectors = text::openWordVectors(cfg.vectors);
  std::vector<float> scratch(static_cast<size_t>(vectors->dim()));
  auto has = [&](const std::string& w) { return vectors->lookup(w, scratch.data()); };
  if (cfg.vector_words == text::VectorWords::kAll) {
    for (size_t i = 0; i < docs.size(); ++i) {
      if (ds.splits[i] != text::Split::kTrain) other_tokens.push_back(docs[i].words);
    }
  }
  text::Vocab vocab = text::Vocab::build(train_tokens, cfg, has, other_tokens);
  const text::Vocab plain = text::Vocab::build(train_tokens, cfg);
  log::info0("vocabulary: {} words ({} without {}: kept {} more that have a vector)", vocab.size(), plain.size(),
             cfg.vectors, vocab.size() - plain.size());
  return vocab;
}

void buildCache(const Sources& src, const std::string& path, uint64_t fingerprint) {
  const auto t0 = std::chrono::steady_clock::now();
  text::TextDatasetOptions opts;
  opts.empty_documents = src.data.empty_documents;
  text::TextDataset ds = text::TextDataset::load(dataFile(src.data, src.data.corpus, "corpus"),
                                                 dataFile(src.data, src.data.labels, "labels"), opts);
  text::Tokenizer tok(src.tokenizer);
  std::vector<Document> docs(static_cast<size_t>(ds.size()));
  at::parallel_for(0, ds.size(), 64, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      Document& d = docs[static_cast<size_t>(i)];
      d.words = tok.tokenize(ds.texts[static_cast<size_t>(i)], &d.sentence_ends);
    }
  });
  text::Vocab vocab = buildVocab(src.vocab, ds, docs);
  if (src.graph.builder == BuilderKind::kSemantic) vocab = withConcepts(vocab, src.graph);

  auto builder = makeGraphBuilder(src.graph, &vocab);
  GraphStore::Contents c;
  c.graphs.resize(static_cast<size_t>(ds.size()));
  buildGraphs(*builder, vocab, ds, docs, &c.graphs);
  c.splits = ds.splits;
  c.vocab_tokens = vocab.tokens();
  c.label_names = ds.label_names;
  c.fingerprint = fingerprint;
  GraphStore::write(path, c);
  int64_t nodes = 0, edges = 0;
  for (const auto& g : c.graphs) {
    nodes += g.numNodes();
    edges += g.numEdges();
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  log::info0("prepared {} documents ({} classes, vocabulary {}): {} nodes, {} edges in {:.1f}s -> {}",
             ds.size(), ds.numClasses(), vocab.size(), nodes, edges, secs, path);
}

// The synthetic corpus's cache key: the generator's settings alone.
uint64_t syntheticFingerprint(const CorpusGeneratorConfig& cfg) {
  Fnv1a h;
  h.addValue(GraphStore::kVersion);
  h.add("synthetic");
  h.add(toYamlString(cfg));
  return h.value();
}

void buildSynthetic(const CorpusGeneratorConfig& cfg, const std::string& path, uint64_t fingerprint) {
  const auto t0 = std::chrono::steady_clock::now();
  GraphStore::Contents contents = generateCorpus(cfg);
  contents.fingerprint = fingerprint;
  GraphStore::write(path, contents);  // creates the cache folder
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  log::info0("generated {} synthetic documents ({} words, {} classes) into {} in {:.1f}s", cfg.documents, cfg.vocab,
             cfg.classes, path, secs);
}

}  // namespace

std::string dataFile(const DataConfig& data, const std::string& name, const char* key) {
  fs::path p = fs::path(data.dir) / name;
  if (!fs::exists(data.dir)) {
    throw DataError("data.dir=" + data.dir + ": directory not found (relative to " +
                    fs::current_path().string() + ")");
  }
  if (!fs::exists(p)) throw DataError(p.string() + ": file not found (data." + key + ")");
  return p.string();
}

std::vector<int64_t> PreparedData::indicesOf(text::Split s) const {
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < store.size(); ++i) {
    if (store.split(i) == s) idx.push_back(i);
  }
  return idx;
}

PreparedData loadOrPrepare(const DataConfig& data, const text::TokenizerConfig& tokenizer,
                           const text::VocabConfig& vocab_cfg, const GraphConfig& graph, bool force) {
  const Sources src{data, tokenizer, vocab_cfg, graph};
  const bool synthetic = data.format == DataFormat::kSynthetic;
  const uint64_t fingerprint = synthetic ? syntheticFingerprint(data.synthetic) : cacheFingerprint(src);
  const std::string path = synthetic ? (fs::path(data.cache_dir) / ("synthetic-" + hex64(fingerprint) + ".graphs")).string()
                                     : cachePathFor(data, fingerprint);
  bool built = false;
  if (force || !fs::exists(path)) {
    if (synthetic) {
      buildSynthetic(data.synthetic, path, fingerprint);
    } else {
      buildCache(src, path, fingerprint);
    }
    built = true;
  }
  GraphStore store = GraphStore::open(path);
  if (store.fingerprint() != fingerprint) {
    throw DataError(path + ": graph cache was made from other data or settings (fingerprint " +
                    hex64(store.fingerprint()) + ", expected " + hex64(fingerprint) +
                    "); delete it or run 'autoglm prepare'");
  }
  text::Vocab vocab = text::Vocab::fromTokens(store.vocabTokens());
  std::vector<std::string> names = store.labelNames();
  if (names.empty()) throw DataError(path + ": graph cache has no label names");
  return PreparedData{std::move(store), std::move(vocab), std::move(names), path, built};
}

void splitValidation(const std::vector<int64_t>& train, double fraction, uint64_t seed,
                     std::vector<int64_t>* train_out, std::vector<int64_t>* val_out) {
  std::vector<int64_t> order = train;
  std::mt19937_64 rng(seed ^ 0x5eedull);
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[static_cast<size_t>(rng() % i)]);
  const auto n_val = static_cast<size_t>(static_cast<double>(order.size()) * fraction);
  val_out->assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n_val));
  train_out->assign(order.begin() + static_cast<std::ptrdiff_t>(n_val), order.end());
  std::sort(val_out->begin(), val_out->end());
  std::sort(train_out->begin(), train_out->end());
}

}  // namespace autoglm::core::graph
