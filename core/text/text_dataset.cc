#include "core/text/text_dataset.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/file_io.h"
#include "core/text/tokenizer.h"

namespace autoglm::core::text {

std::vector<std::string> readLines(const std::string& path) {
  if (!std::filesystem::exists(path)) throw DataError(path + ": file not found");
  const std::optional<std::string> bytes = readFileBytes(path);
  if (!bytes) throw DataError(path + ": cannot open");
  std::vector<std::string> lines = splitLines(*bytes);
  for (auto& l : lines) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
  }
  return lines;
}

std::vector<int64_t> TextDataset::indicesOf(Split s) const {
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < size(); ++i) {
    if (splits[static_cast<size_t>(i)] == s) idx.push_back(i);
  }
  return idx;
}

TextDataset TextDataset::load(const std::string& corpus_path, const std::string& labels_path,
                              const TextDatasetOptions& opts) {
  std::vector<std::string> corpus = readLines(corpus_path);
  std::vector<std::string> label_lines = readLines(labels_path);
  if (label_lines.empty()) throw DataError(labels_path + ": file is empty");
  if (corpus.size() != label_lines.size()) {
    throw DataError(corpus_path + " has " + std::to_string(corpus.size()) + " documents but " +
                    labels_path + " has " + std::to_string(label_lines.size()) + " label lines");
  }

  struct Row {
    Split split;
    std::string label;
  };
  std::vector<Row> rows;
  rows.reserve(label_lines.size());
  std::map<std::string, int64_t> label_ids;
  for (size_t i = 0; i < label_lines.size(); ++i) {
    const std::string& line = label_lines[i];
    auto t1 = line.find('\t');
    auto t2 = t1 == std::string::npos ? std::string::npos : line.find('\t', t1 + 1);
    const std::string where = labels_path + ":" + std::to_string(i + 1);
    if (t1 == std::string::npos || t2 == std::string::npos) {
      throw DataError(where + ": expected '<id>\\t<split>\\t<label>', got '" + line.substr(0, 80) + "'");
    }
    std::string split = line.substr(t1 + 1, t2 - t1 - 1);
    std::string label = line.substr(t2 + 1);
    while (!label.empty() && (label.back() == ' ' || label.back() == '\t')) label.pop_back();
    Row r;
    if (split == "train" || split == "training") {
      r.split = Split::kTrain;
    } else if (split == "test") {
      r.split = Split::kTest;
    } else {
      throw DataError(where + ": unknown split '" + split + "' (expected train, training or test)");
    }
    if (label.empty()) throw DataError(where + ": empty label");
    r.label = std::move(label);
    label_ids.emplace(r.label, 0);
    rows.push_back(std::move(r));
  }
  TextDataset ds;
  for (auto& [name, id] : label_ids) {
    id = static_cast<int64_t>(ds.label_names.size());
    ds.label_names.push_back(name);
  }
  Tokenizer probe;
  for (size_t i = 0; i < corpus.size(); ++i) {
    if (probe.tokenize(corpus[i]).empty()) {
      if (opts.empty_documents == EmptyDocuments::kSkip) continue;
      throw DataError(corpus_path + ":" + std::to_string(i + 1) +
                      ": document " + std::to_string(i) +
                      " is empty (no tokens); set data.empty_documents: skip to drop such documents");
    }
    ds.texts.push_back(std::move(corpus[i]));
    ds.labels.push_back(label_ids.at(rows[i].label));
    ds.splits.push_back(rows[i].split);
    ds.source_line.push_back(static_cast<int64_t>(i + 1));
  }
  if (ds.indicesOf(Split::kTrain).empty()) throw DataError(labels_path + ": no training documents");
  return ds;
}

}  // namespace autoglm::core::text
