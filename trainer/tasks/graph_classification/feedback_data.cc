#include "trainer/tasks/graph_classification/feedback_data.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "core/file_io.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/text/text_dataset.h"
#include "trainer/inference/predictor.h"

namespace autoglm::trainer {
namespace fs = std::filesystem;
using autoglm::detail::concat;

namespace {

// The file's documents as graphs of the training split.
void addFeedbackGraphs(const std::string& path, const ExperimentConfig& cfg, const core::text::Vocab& vocab,
                       const std::vector<std::string>& labels, core::graph::GraphStore::Contents* c) {
  const core::text::Tokenizer tok(cfg.tokenizer);
  const auto builder = core::graph::makeGraphBuilder(cfg.graph, &vocab);
  const std::vector<std::string> lines = core::text::readLines(path);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string where = concat(path, ":", i + 1);
    const std::string& line = lines[i];
    const size_t tab = line.rfind('\t');
    if (tab == std::string::npos) throw DataError(where + ": expected text<TAB>label, found no tab");
    const std::string label = line.substr(tab + 1);
    const auto it = std::find(labels.begin(), labels.end(), label);
    if (it == labels.end()) {
      std::string known;
      for (const auto& l : labels) known += (known.empty() ? "" : ", ") + l;
      throw DataError(where + ": label '" + label + "' is not one of the checkpoint's labels (" + known + ")");
    }
    const core::graph::Document doc = core::graph::makeDocument(std::string_view(line).substr(0, tab), tok, vocab);
    if (doc.ids.empty()) {
      if (cfg.data.empty_documents == core::text::EmptyDocuments::kSkip) continue;
      throw DataError(where + ": empty document (no tokens); set data.empty_documents: skip to drop such lines");
    }
    core::graph::Graph g = builder->buildDocument(doc);
    g.label = it - labels.begin();
    c->graphs.push_back(std::move(g));
    c->splits.push_back(core::text::Split::kTrain);
  }
  if (c->graphs.empty()) throw DataError(path + ": no labelled documents");
}

}  // namespace

core::graph::PreparedData prepareFeedback(const std::string& tsv_path, const CheckpointInfo& ckpt,
                                          const ExperimentConfig& cfg) {
  const std::optional<std::string> bytes = core::readFileBytes(tsv_path);
  if (!bytes) throw DataError(tsv_path + ": cannot open (--data)");
  // The checkpoint's own dataset, for its test split; its vocabulary must be the checkpoint's.
  core::graph::PreparedData base = prepareData(cfg);
  checkSameVocabulary(ckpt, base, cfg.data.dir, "; point data.dir at the dataset the checkpoint was trained on");
  core::Fnv1a h;
  h.addValue(core::graph::GraphStore::kVersion);
  h.addValue(core::crc32(bytes->data(), bytes->size()));
  h.addValue(base.store.fingerprint());
  h.add(core::toYamlString(cfg.tokenizer));
  h.addValue(core::graph::builderFingerprint(cfg.graph));
  const std::string path =
      (fs::path(cfg.data.cache_dir) / ("feedback-" + core::hex64(h.value()) + ".graphs")).string();
  if (!fs::exists(path)) {
    core::graph::GraphStore::Contents c;
    addFeedbackGraphs(tsv_path, cfg, base.vocab, ckpt.label_names, &c);
    const int64_t feedback = static_cast<int64_t>(c.graphs.size());
    for (int64_t i : base.indicesOf(core::text::Split::kTest)) {
      const core::graph::GraphView v = base.store.graph(i);
      core::graph::Graph g;
      g.tokens.assign(v.tokens, v.tokens + v.num_nodes);
      g.src.assign(v.src, v.src + v.num_edges);
      g.dst.assign(v.dst, v.dst + v.num_edges);
      g.weight.assign(v.weight, v.weight + v.num_edges);
      g.label = v.label;
      c.graphs.push_back(std::move(g));
      c.splits.push_back(core::text::Split::kTest);
    }
    c.vocab_tokens = ckpt.vocab_tokens;
    c.label_names = ckpt.label_names;
    c.fingerprint = h.value();
    fs::create_directories(cfg.data.cache_dir);
    core::graph::GraphStore::write(path, c);
    core::log::info0("prepared {} feedback documents from {} and {} test documents of {} -> {}", feedback, tsv_path,
                     c.graphs.size() - static_cast<size_t>(feedback), cfg.data.dir, path);
  }
  core::graph::GraphStore store = core::graph::GraphStore::open(path);
  return core::graph::PreparedData{std::move(store), core::text::Vocab::fromTokens(ckpt.vocab_tokens),
                                   ckpt.label_names, path, false};
}

}  // namespace autoglm::trainer
