#include "trainer/text_data.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "core/error.h"
#include "core/file_io.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/text_dataset.h"

namespace autoglm::trainer {
namespace fs = std::filesystem;

namespace {

std::string dataFile(const ExperimentConfig& cfg, const std::string& name, const char* key) {
  fs::path p = fs::path(cfg.data.dir) / name;
  if (!fs::exists(cfg.data.dir)) {
    throw DataError("data.dir=" + cfg.data.dir + ": directory not found (relative to " +
                    fs::current_path().string() + ")");
  }
  if (!fs::exists(p)) throw DataError(p.string() + ": file not found (data." + key + ")");
  return p.string();
}

uint32_t fileCrc(const std::string& path) {
  const std::optional<std::string> bytes = core::readFileBytes(path);
  if (!bytes) throw DataError(path + ": cannot open");
  return core::crc32(bytes->data(), bytes->size());
}

}  // namespace

std::vector<int64_t> PreparedData::indicesOf(core::Split s) const {
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < store.size(); ++i) {
    if (store.split(i) == s) idx.push_back(i);
  }
  return idx;
}

namespace {
uint64_t cacheFingerprint(const ExperimentConfig& cfg) {
  const std::string corpus = dataFile(cfg, cfg.data.corpus, "corpus");
  const std::string labels = dataFile(cfg, cfg.data.labels, "labels");
  core::Fnv1a h;
  h.addValue(core::GraphStore::kVersion);
  h.addValue(fileCrc(corpus));
  h.addValue(fileCrc(labels));
  h.add(cfg.data.format);
  h.add(cfg.data.empty_documents);
  h.add(toYamlString(cfg.tokenizer));
  h.add(toYamlString(cfg.vocab));
  h.addValue(core::makeGraphBuilder(cfg.graph)->fingerprint());
  return h.value();
}
}  // namespace

namespace {
std::string cachePathFor(const ExperimentConfig& cfg, uint64_t fingerprint) {
  std::string stem = fs::path(cfg.data.dir).filename().string();
  if (stem.empty()) stem = fs::path(cfg.data.dir).parent_path().filename().string();
  return (fs::path(cfg.data.cache_dir) / (stem + "-" + core::hex64(fingerprint) + ".graphs")).string();
}
}  // namespace


namespace {

void buildCache(const ExperimentConfig& cfg, const std::string& path, uint64_t fingerprint) {
  const auto t0 = std::chrono::steady_clock::now();
  core::TextDatasetOptions opts;
  opts.empty_documents = cfg.data.empty_documents;
  core::TextDataset ds = core::TextDataset::load(dataFile(cfg, cfg.data.corpus, "corpus"),
                                                 dataFile(cfg, cfg.data.labels, "labels"), opts);
  core::Tokenizer tok(cfg.tokenizer);
  std::vector<std::vector<std::string>> tokens(static_cast<size_t>(ds.size()));
  at::parallel_for(0, ds.size(), 64, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) tokens[static_cast<size_t>(i)] = tok.tokenize(ds.texts[static_cast<size_t>(i)]);
  });
  std::vector<std::vector<std::string>> train_tokens;
  for (int64_t i : ds.indicesOf(core::Split::kTrain)) train_tokens.push_back(tokens[static_cast<size_t>(i)]);
  core::Vocab vocab = core::Vocab::build(train_tokens, cfg.vocab);
  train_tokens.clear();

  auto builder = core::makeGraphBuilder(cfg.graph);
  core::GraphStore::Contents c;
  c.graphs.resize(static_cast<size_t>(ds.size()));
  at::parallel_for(0, ds.size(), 64, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      core::Graph g = builder->build(vocab.encode(tokens[static_cast<size_t>(i)]));
      g.label = ds.labels[static_cast<size_t>(i)];
      c.graphs[static_cast<size_t>(i)] = std::move(g);
    }
  });
  c.splits = ds.splits;
  c.vocab_tokens = vocab.tokens();
  c.label_names = ds.label_names;
  c.fingerprint = fingerprint;
  core::GraphStore::write(path, c);
  int64_t nodes = 0, edges = 0;
  for (const auto& g : c.graphs) {
    nodes += g.numNodes();
    edges += g.numEdges();
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  log::info0("prepared {} documents ({} classes, vocabulary {}): {} nodes, {} edges in {:.1f}s -> {}",
             ds.size(), ds.numClasses(), vocab.size(), nodes, edges, secs, path);
}

}  // namespace

PreparedData loadOrPrepare(const ExperimentConfig& cfg, bool force) {
  const uint64_t fingerprint = cacheFingerprint(cfg);
  const std::string path = cachePathFor(cfg, fingerprint);
  bool built = false;
  if (force || !fs::exists(path)) {
    buildCache(cfg, path, fingerprint);
    built = true;
  }
  core::GraphStore store = core::GraphStore::open(path);
  if (store.fingerprint() != fingerprint) {
    throw DataError(path + ": graph cache was made from other data or settings (fingerprint " +
                    core::hex64(store.fingerprint()) + ", expected " + core::hex64(fingerprint) +
                    "); delete it or run 'autoglm prepare'");
  }
  core::Vocab vocab = core::Vocab::fromTokens(store.vocabTokens());
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

}  // namespace autoglm::trainer
