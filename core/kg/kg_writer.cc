#include "core/kg/kg_writer.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string_view>
#include <system_error>
#include <vector>

#include "core/error.h"

namespace autoglm::core::kg {

namespace fs = std::filesystem;

namespace {

constexpr size_t kBufferBytes = 1 << 20;

// A file written through a buffer to "<dir>/.<name>.tmp", renamed to its name
// by commit(); dropped uncommitted, it removes the temporary.
class BufferedFileWriter {
 public:
  explicit BufferedFileWriter(std::string path) : path_(std::move(path)) {
    const fs::path p(path_);
    tmp_ = (p.parent_path() / ("." + p.filename().string() + ".tmp")).string();
    file_ = std::fopen(tmp_.c_str(), "wb");
    if (file_ == nullptr) fail("cannot create");
    buffer_.reserve(kBufferBytes + 64);
  }
  BufferedFileWriter(const BufferedFileWriter&) = delete;
  BufferedFileWriter& operator=(const BufferedFileWriter&) = delete;
  ~BufferedFileWriter() {
    if (file_ != nullptr) std::fclose(file_);
    if (!committed_) std::remove(tmp_.c_str());
  }

  void append(std::string_view s) {
    buffer_.append(s);
    if (buffer_.size() >= kBufferBytes) flush();
  }
  void append(char c) { buffer_.push_back(c); }
  void appendNumber(uint64_t v) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof(digits), v).ptr;
    buffer_.append(digits, static_cast<size_t>(end - digits));
  }

  // Flushes and closes the temporary; returns its size.
  uint64_t finish() {
    flush();
    FILE* f = file_;
    file_ = nullptr;
    if (std::fclose(f) != 0) fail("cannot write");
    return bytes_;
  }
  void commit() {
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) fail("cannot rename the temporary to");
    committed_ = true;
  }

 private:
  void flush() {
    if (!buffer_.empty() && std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size()) {
      fail("cannot write");
    }
    bytes_ += buffer_.size();
    buffer_.clear();
  }
  [[noreturn]] void fail(const char* what) const {
    throw DataError(std::string(what) + " " + path_ + ": " + std::strerror(errno));
  }

  std::string path_, tmp_;
  FILE* file_ = nullptr;
  std::string buffer_;
  uint64_t bytes_ = 0;
  bool committed_ = false;
};

void writeTriples(BufferedFileWriter& w, const std::vector<Triple>& triples, KgForm form) {
  const bool names = form == KgForm::kNames;
  for (const Triple& t : triples) {
    if (names) w.append('e');
    w.appendNumber(t.head);
    w.append(names ? "\tr" : "\t");
    w.appendNumber(t.relation);
    w.append(names ? "\te" : "\t");
    w.appendNumber(t.tail);
    w.append("\n");
  }
}

void writeDict(BufferedFileWriter& w, int64_t count, char prefix) {
  for (int64_t i = 0; i < count; ++i) {
    w.appendNumber(static_cast<uint64_t>(i));
    w.append('\t');
    w.append(prefix);
    w.appendNumber(static_cast<uint64_t>(i));
    w.append("\n");
  }
}

std::string kgJson(const KgGeneratorOptions& o) {
  nlohmann::ordered_json g;
  g["entities"] = o.entities;
  g["relations"] = o.relations;
  g["triples_per_entity"] = o.triples_per_entity;
  g["degree"] = o.degree == DegreeDistribution::kZipf ? "zipf" : "uniform";
  g["zipf_exponent"] = o.zipf_exponent;
  g["max_degree"] = o.max_degree;
  g["clusters"] = o.clusters;
  g["noise"] = o.noise;
  g["tail_skew"] = o.tail_skew;
  g["valid_fraction"] = o.valid_fraction;
  g["test_fraction"] = o.test_fraction;
  g["seed"] = o.seed;
  nlohmann::ordered_json j;
  j["format"] = "autoglm-kg-ids";
  j["version"] = 1;
  j["entities"] = o.entities;
  j["relations"] = o.relations;
  j["generator"] = std::move(g);
  return j.dump(2) + "\n";
}

// Creates `dir`, or checks that it may be written into.
void prepareDirectory(const std::string& dir, bool overwrite) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) throw DataError("cannot create " + dir + ": " + ec.message());
    return;
  }
  if (!fs::is_directory(dir, ec)) throw ConfigError("output " + dir + " exists and is not a directory");
  if (!overwrite && !fs::is_empty(dir, ec)) {
    throw ConfigError("output directory " + dir + " is not empty (overwrite replaces its knowledge graph)");
  }
}

}  // namespace

uint64_t writeKnowledgeGraph(const KnowledgeGraph& kg, const std::string& dir, const KgWriteOptions& options) {
  prepareDirectory(dir, options.overwrite);
  const fs::path root(dir);
  const auto path = [&root](const char* name) { return (root / name).string(); };
  std::vector<std::unique_ptr<BufferedFileWriter>> files;
  uint64_t bytes = 0;
  const auto write = [&](const char* name, const auto& body) {
    files.push_back(std::make_unique<BufferedFileWriter>(path(name)));
    body(*files.back());
    bytes += files.back()->finish();
  };
  const KgForm form = options.form;
  write("train.txt", [&](BufferedFileWriter& w) { writeTriples(w, kg.train, form); });
  write("valid.txt", [&](BufferedFileWriter& w) { writeTriples(w, kg.valid, form); });
  write("test.txt", [&](BufferedFileWriter& w) { writeTriples(w, kg.test, form); });
  if (form == KgForm::kNames) {
    write("entities.dict", [&](BufferedFileWriter& w) { writeDict(w, kg.options.entities, 'e'); });
    write("relations.dict", [&](BufferedFileWriter& w) { writeDict(w, kg.options.relations, 'r'); });
  } else {
    write("kg.json", [&](BufferedFileWriter& w) { w.append(kgJson(kg.options)); });
  }
  for (auto& f : files) f->commit();
  // The other form's files, left by an earlier run in this directory.
  const std::vector<const char*> stale =
      form == KgForm::kNames ? std::vector<const char*>{"kg.json"} : std::vector<const char*>{"entities.dict", "relations.dict"};
  for (const char* name : stale) {
    std::error_code ec;
    fs::remove(path(name), ec);
    if (ec) throw DataError("cannot remove " + path(name) + ": " + ec.message());
  }
  return bytes;
}

}  // namespace autoglm::core::kg
