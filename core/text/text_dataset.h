#pragma once
// Text-classification datasets in the TextGCN layout (R8, R52, MR, Ohsumed):
//   corpus file: line i is document i;
//   labels file: "<id>\t<split>\t<label>" per line, split "train"/"training"/"test".
// Reading tolerates CRLF line ends, a missing final newline and non-UTF-8 bytes.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/yaml_config.h"

namespace autoglm::core::text {

enum class Split : uint8_t { kTrain = 0, kTest = 1 };

// What to do with a document whose text has no tokens (data.empty_documents).
enum class EmptyDocuments { kError, kSkip };
constexpr std::array<EnumName<EmptyDocuments>, 2> enumNames(EmptyDocuments) {
  return {{{EmptyDocuments::kError, "error"}, {EmptyDocuments::kSkip, "skip"}}};
}

struct TextDatasetOptions {
  EmptyDocuments empty_documents = EmptyDocuments::kError;
};

struct TextDataset {
  std::vector<std::string> texts;
  std::vector<int64_t> labels;             // index into label_names
  std::vector<Split> splits;
  std::vector<std::string> label_names;    // sorted, so ids do not depend on file order
  std::vector<int64_t> source_line;        // 1-based line in the corpus file, for messages

  int64_t size() const { return static_cast<int64_t>(texts.size()); }
  int64_t numClasses() const { return static_cast<int64_t>(label_names.size()); }
  std::vector<int64_t> indicesOf(Split s) const;

  // Throws DataError naming the file and line of the first problem.
  static TextDataset load(const std::string& corpus_path, const std::string& labels_path,
                          const TextDatasetOptions& opts = {});
};

// Reads a file into lines, stripping '\r' before '\n'; a final line without a
// newline is kept, an empty trailing line after the last '\n' is not.
std::vector<std::string> readLines(const std::string& path);

}  // namespace autoglm::core::text
