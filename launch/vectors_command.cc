#include "launch/vectors_command.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <unordered_map>
#include <optional>
#include <unordered_set>

#include "core/error.h"
#include "core/graph/prepared_data.h"
#include "core/hash.h"
#include "core/text/text_dataset.h"
#include "core/text/tokenizer.h"
#include "core/text/vocab.h"
#include "trainer/config/experiment_config.h"

namespace autoglm::launch {
namespace fs = std::filesystem;
namespace tx = core::text;

namespace {

constexpr uint64_t kProgressMinBytes = 32ull << 20;

// Token counts of a dataset: per type, in the training split and in all splits.
struct DatasetWords {
  std::string dir;
  std::unordered_map<std::string, int64_t> train, all;
  std::vector<std::string> vocab;  // the model's vocabulary (vocab.*), reserved ids left out
  int64_t vocab_min_count = 1;
};

DatasetWords datasetWords(const VectorsImportOptions& opts) {
  const trainer::ExperimentConfig cfg = trainer::ExperimentConfig::load(opts.config, opts.overrides);
  tx::TextDatasetOptions dopts;
  dopts.empty_documents = cfg.data.empty_documents;
  const tx::TextDataset ds = tx::TextDataset::load(core::graph::dataFile(cfg.data, cfg.data.corpus, "corpus"),
                                                   core::graph::dataFile(cfg.data, cfg.data.labels, "labels"), dopts);
  const tx::Tokenizer tok(cfg.tokenizer);
  DatasetWords w;
  w.dir = cfg.data.dir;
  w.vocab_min_count = cfg.vocab.min_count;
  std::vector<std::vector<std::string>> train_docs;
  for (int64_t i = 0; i < ds.size(); ++i) {
    std::vector<std::string> tokens = tok.tokenize(ds.texts[static_cast<size_t>(i)]);
    const bool train = ds.splits[static_cast<size_t>(i)] == tx::Split::kTrain;
    for (const std::string& t : tokens) {
      ++w.all[t];
      if (train) ++w.train[t];
    }
    if (train) train_docs.push_back(std::move(tokens));
  }
  const tx::Vocab vocab = tx::Vocab::build(train_docs, cfg.vocab);
  w.vocab.assign(vocab.tokens().begin() + tx::Vocab::kNumReserved, vocab.tokens().end());
  return w;
}

std::string percent(int64_t part, int64_t whole) {
  return whole == 0 ? "-" : fmt::format("{:.1f}%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
}

// "covered of total types (p%), covered of total tokens (p%)"
std::string coverageLine(const std::unordered_map<std::string, int64_t>& counts,
                         const std::unordered_set<std::string_view>& have) {
  int64_t types = 0, tokens = 0, covered_types = 0, covered_tokens = 0;
  for (const auto& [word, n] : counts) {
    ++types;
    tokens += n;
    if (have.count(word) != 0) {
      ++covered_types;
      covered_tokens += n;
    }
  }
  return fmt::format("{} of {} types ({}), {} of {} tokens ({})", covered_types, types,
                     percent(covered_types, types), covered_tokens, tokens, percent(covered_tokens, tokens));
}

void printCoverage(const DatasetWords& w, const tx::WordVectorTable& table, std::ostream& out) {
  std::unordered_set<std::string_view> have(table.words.begin(), table.words.end());
  out << "coverage of " << w.dir << " (tokenized as the config says):\n";
  out << "  train split: " << coverageLine(w.train, have) << "\n";
  out << "  all splits:  " << coverageLine(w.all, have) << "\n";
  int64_t in_vocab = 0;
  for (const std::string& t : w.vocab) in_vocab += have.count(t) != 0 ? 1 : 0;
  const auto vocab_size = static_cast<int64_t>(w.vocab.size());
  out << "  model vocabulary (vocab.min_count=" << w.vocab_min_count << "): " << in_vocab << " of " << vocab_size
      << " words (" << percent(in_vocab, vocab_size) << ")\n";
}

tx::ReadProgress progressPrinter(const std::string& path, std::ostream& err) {
  std::error_code ec;
  const uint64_t size = fs::file_size(path, ec);
  if (ec || size < kProgressMinBytes) return {};
  return [size, &err](uint64_t bytes, int64_t rows) {
    err << fmt::format("  {} words read ({:.0f}% of {} MB)", rows, 100.0 * static_cast<double>(bytes) / size,
                       size >> 20)
        << std::endl;
  };
}

bool startsWithBrace(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char c = 0;
  while (in.get(c) && (c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
  }
  return in && c == '{';
}

VectorsFormat inputFormat(const VectorsImportOptions& opts) {
  if (opts.format != VectorsFormat::kAuto) return opts.format;
  if (tx::isBinaryVectors(opts.input)) return VectorsFormat::kBinary;
  return startsWithBrace(opts.input) ? VectorsFormat::kJson : VectorsFormat::kText;
}

tx::WordVectorTable readVectors(const VectorsImportOptions& opts, const tx::KeepWord& keep, std::ostream& out,
                                std::ostream& err) {
  const VectorsFormat format = inputFormat(opts);
  out << "reading " << opts.input << " as "
      << (format == VectorsFormat::kJson     ? "wink-embeddings JSON"
          : format == VectorsFormat::kBinary ? ".agvec"
                                             : "GloVe/word2vec text")
      << std::endl;
  const tx::ReadProgress progress = progressPrinter(opts.input, err);
  if (format == VectorsFormat::kJson) return tx::readJsonVectors(opts.input, keep, progress);
  if (format == VectorsFormat::kBinary) return tx::readBinaryVectors(opts.input, keep);
  return tx::readTextVectors(opts.input, keep, progress);
}

}  // namespace

int runVectorsImport(const VectorsImportOptions& opts, std::ostream& out, std::ostream& err) {
  if (opts.only_dataset_words && opts.config.empty()) {
    throw ConfigError("--only-dataset-words needs --config FILE (the dataset whose words are kept)");
  }
  if (opts.output.empty() && opts.config.empty()) {
    throw ConfigError("nothing to do: give OUT (the .agvec to write) or --config FILE (to report the coverage)");
  }
  if (!fs::exists(opts.input)) throw DataError(opts.input + ": file not found");
  std::optional<DatasetWords> words;
  if (!opts.config.empty()) words = datasetWords(opts);
  tx::KeepWord keep;
  if (opts.only_dataset_words) keep = [&words](std::string_view w) { return words->all.count(std::string(w)) != 0; };
  const tx::WordVectorTable table = readVectors(opts, keep, out, err);
  out << "read " << table.size() << " words" << (keep ? " occurring in the dataset" : "") << ", dim " << table.dim
      << std::endl;
  if (words) printCoverage(*words, table, out);
  if (opts.output.empty()) return 0;
  if (table.size() == 0) throw DataError(opts.input + ": no word of the dataset has a vector; nothing written");
  tx::writeBinaryVectors(opts.output, table, opts.dtype);
  out << "wrote " << opts.output << ": " << table.size() << " words, dim " << table.dim << ", "
      << tx::dtypeName(opts.dtype) << ", " << fs::file_size(opts.output) << " bytes" << std::endl;
  return 0;
}

int runVectorsInfo(const std::string& path, std::ostream& out) {
  if (!fs::exists(path)) throw DataError(path + ": file not found");
  const tx::VectorFileInfo info = tx::inspectWordVectors(path);
  out << "file: " << path << "\n";
  out << "format: " << (info.binary ? "agvec (binary)" : "text") << "\n";
  out << "dtype: " << tx::dtypeName(info.dtype) << "\n";
  out << "dim: " << info.dim << "\n";
  out << "count: " << info.count << "\n";
  out << "bytes: " << info.file_bytes << "\n";
  if (info.binary) out << "checksum: fnv1a64 " << core::hex64(info.checksum) << " ok\n";
  out.flush();
  return 0;
}

}  // namespace autoglm::launch
