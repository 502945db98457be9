#include "launch/extract_command.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <ostream>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "core/semantic/triple_extractor.h"
#include "launch/serve/utf8.h"

namespace autoglm::launch {
namespace fs = std::filesystem;
namespace sem = core::semantic;

namespace {

using Clock = std::chrono::steady_clock;

const char* const kFiles[] = {"entities.dict", "relations.dict", "train.txt", "valid.txt", "test.txt"};

void validate(const ExtractCommandOptions& o) {
  auto fraction = [](const char* name, double f) {
    if (!(f >= 0.0 && f < 1.0)) throw ConfigError(fmt::format("{}={} must be in [0, 1)", name, f));
  };
  fraction("--valid-fraction", o.valid_fraction);
  fraction("--test-fraction", o.test_fraction);
  if (o.valid_fraction + o.test_fraction >= 1.0) {
    throw ConfigError(fmt::format("--valid-fraction + --test-fraction = {} leaves nothing for train",
                                  o.valid_fraction + o.test_fraction));
  }
  if (o.min_count < 1) throw ConfigError(fmt::format("--min-count={} must be at least 1", o.min_count));
  if (o.max_docs < 0) throw ConfigError(fmt::format("--max-docs={} must be >= 0 (0: all)", o.max_docs));
  if (o.threads < 1) throw ConfigError(fmt::format("--threads={} must be at least 1", o.threads));
  if (o.out.empty()) throw ConfigError("--out DIR is required");
}

// The documents of the corpus, each checked to be UTF-8; a trailing '\r' goes.
std::vector<std::string> readCorpus(const std::string& path, int64_t max_docs) {
  if (!fs::is_regular_file(path)) throw DataError(path + ": no such file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot be opened for reading");
  std::vector<std::string> docs;
  std::string line;
  while ((max_docs == 0 || static_cast<int64_t>(docs.size()) < max_docs) && std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (const auto bad = serve::firstInvalidUtf8(line)) {
      throw DataError(fmt::format("{}:{}: not valid UTF-8 (byte 0x{:02X} at column {})", path, docs.size() + 1,
                                  static_cast<unsigned char>(line[*bad]), *bad + 1));
    }
    docs.push_back(std::move(line));
  }
  if (in.bad()) throw DataError(path + ": read error after line " + std::to_string(docs.size()));
  return docs;
}

void prepareOut(const ExtractCommandOptions& o) {
  std::error_code ec;
  if (fs::exists(o.out, ec)) {
    if (!fs::is_directory(o.out, ec)) throw DataError(o.out + ": exists and is not a directory");
    if (!o.overwrite && !fs::is_empty(o.out, ec)) {
      throw ConfigError(o.out + ": directory is not empty (give --overwrite to write into it)");
    }
  }
  fs::create_directories(o.out, ec);
  if (ec) throw DataError(fmt::format("{}: cannot create directory: {}", o.out, ec.message()));
}

struct Extraction {
  std::vector<std::vector<sem::Triple>> per_doc;
  sem::ExtractStats stats;
};

// Parses the documents on opts.threads threads; the calling thread prints a
// progress line every progress_seconds.
Extraction extractAll(const std::vector<std::string>& docs, const ExtractCommandOptions& opts, std::ostream& err) {
  const sem::TripleExtractor extractor;
  Extraction ex;
  ex.per_doc.resize(docs.size());
  std::atomic<size_t> next{0}, done{0};
  std::atomic<int64_t> triples{0};
  std::mutex mu;
  std::condition_variable finished;
  std::exception_ptr failure;
  auto work = [&] {
    sem::ExtractStats local;
    try {
      for (size_t i = next++; i < docs.size(); i = next++) {
        ex.per_doc[i] = extractor.extract(docs[i], &local);
        triples += static_cast<int64_t>(ex.per_doc[i].size());
        ++done;
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu);
      if (!failure) failure = std::current_exception();
      next = docs.size();
    }
    std::lock_guard<std::mutex> lock(mu);
    ex.stats.sentences += local.sentences;
    ex.stats.triples += local.triples;
    ex.stats.parse.windows += local.parse.windows;
    ex.stats.parse.timed_out += local.parse.timed_out;
    ex.stats.parse.unparsed += local.parse.unparsed;
    finished.notify_all();
  };
  std::vector<std::thread> pool;
  for (int64_t t = 0; t < opts.threads; ++t) pool.emplace_back(work);
  const auto start = Clock::now();
  const auto period = std::chrono::duration<double>(opts.progress_seconds);
  {
    std::unique_lock<std::mutex> lock(mu);
    while (!finished.wait_for(lock, period, [&] { return done.load() == docs.size() || failure; })) {
      const double secs = std::chrono::duration<double>(Clock::now() - start).count();
      err << fmt::format("extract: {}/{} documents, {} triples, {:.1f} docs/s", done.load(), docs.size(),
                         triples.load(), static_cast<double>(done.load()) / secs)
          << std::endl;
    }
  }
  for (std::thread& th : pool) th.join();
  if (failure) std::rethrow_exception(failure);
  return ex;
}

struct TripleHash {
  size_t operator()(const sem::Triple& t) const {
    const std::hash<std::string> h;
    return h(t.head) ^ (h(t.relation) * 31) ^ (h(t.tail) * 1000003);
  }
};

// Distinct triples extracted from at least min_count documents, in order of
// first occurrence.
std::vector<sem::Triple> keptTriples(const Extraction& ex, int64_t min_count) {
  std::unordered_map<sem::Triple, int64_t, TripleHash> count;
  std::vector<sem::Triple> order;
  for (const auto& doc : ex.per_doc) {
    for (const sem::Triple& t : doc) {
      if (count[t]++ == 0) order.push_back(t);
    }
  }
  std::vector<sem::Triple> out;
  for (sem::Triple& t : order) {
    if (count[t] >= min_count) out.push_back(std::move(t));
  }
  return out;
}

struct Split {
  std::vector<sem::Triple> train, valid, test;
};

// Held-out triples are taken in a seeded random order while their head, tail
// and relation keep at least one other triple in train.
Split splitTriples(const std::vector<sem::Triple>& all, const ExtractCommandOptions& o) {
  std::unordered_map<std::string, int64_t> entity_uses, relation_uses;
  for (const sem::Triple& t : all) {
    ++entity_uses[t.head];
    ++entity_uses[t.tail];
    ++relation_uses[t.relation];
  }
  const auto n = static_cast<double>(all.size());
  const auto want_valid = static_cast<size_t>(std::llround(o.valid_fraction * n));
  const auto want_test = static_cast<size_t>(std::llround(o.test_fraction * n));
  std::vector<size_t> order(all.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::mt19937_64 rng(o.seed);
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<char> held(all.size(), 0);  // 1 valid, 2 test
  size_t valid = 0, test = 0;
  for (size_t i : order) {
    if (valid == want_valid && test == want_test) break;
    const sem::Triple& t = all[i];
    if (entity_uses[t.head] < 2 || entity_uses[t.tail] < 2 || relation_uses[t.relation] < 2) continue;
    --entity_uses[t.head];
    --entity_uses[t.tail];
    --relation_uses[t.relation];
    held[i] = valid < want_valid ? 1 : 2;
    (held[i] == 1 ? valid : test) += 1;
  }
  Split s;
  for (size_t i = 0; i < all.size(); ++i) {
    (held[i] == 0 ? s.train : held[i] == 1 ? s.valid : s.test).push_back(all[i]);
  }
  return s;
}

void writeFile(const fs::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  f.close();
  if (!f) throw DataError(path.string() + ": write failed");
}

std::string triplesText(const std::vector<sem::Triple>& ts) {
  std::string s;
  for (const sem::Triple& t : ts) s += t.head + '\t' + t.relation + '\t' + t.tail + '\n';
  return s;
}

// Entities and relations in order of first occurrence in train (every name of
// valid and test occurs there).
void writeDicts(const fs::path& dir, const Split& s, size_t* entities, size_t* relations) {
  std::unordered_map<std::string, size_t> ent_id, rel_id;
  std::string ent, rel;
  auto add = [](std::unordered_map<std::string, size_t>* ids, std::string* text, const std::string& name) {
    if (ids->emplace(name, ids->size()).second) *text += std::to_string(ids->size() - 1) + '\t' + name + '\n';
  };
  for (const std::vector<sem::Triple>* part : {&s.train, &s.valid, &s.test}) {
    for (const sem::Triple& t : *part) {
      add(&ent_id, &ent, t.head);
      add(&ent_id, &ent, t.tail);
      add(&rel_id, &rel, t.relation);
    }
  }
  writeFile(dir / "entities.dict", ent);
  writeFile(dir / "relations.dict", rel);
  *entities = ent_id.size();
  *relations = rel_id.size();
}

}  // namespace

int runExtract(const ExtractCommandOptions& opts, std::ostream& out, std::ostream& err) {
  validate(opts);
  const auto start = Clock::now();
  const std::vector<std::string> docs = readCorpus(opts.corpus, opts.max_docs);
  prepareOut(opts);
  const Extraction ex = extractAll(docs, opts, err);
  const std::vector<sem::Triple> kept = keptTriples(ex, opts.min_count);
  const Split split = splitTriples(kept, opts);
  const fs::path dir(opts.out);
  size_t entities = 0, relations = 0;
  writeDicts(dir, split, &entities, &relations);
  writeFile(dir / kFiles[2], triplesText(split.train));
  writeFile(dir / kFiles[3], triplesText(split.valid));
  writeFile(dir / kFiles[4], triplesText(split.test));
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  out << fmt::format(
             "extract: {} documents, {} sentences, {} triples ({} distinct kept at --min-count {}: train {}, "
             "valid {}, test {}), {} entities, {} relations, {:.1f} s ({} parse windows, {} timed out, {} "
             "unparsed) -> {}",
             docs.size(), ex.stats.sentences, ex.stats.triples, kept.size(), opts.min_count, split.train.size(),
             split.valid.size(), split.test.size(), entities, relations, secs, ex.stats.parse.windows,
             ex.stats.parse.timed_out, ex.stats.parse.unparsed, opts.out)
      << std::endl;
  return 0;
}

}  // namespace autoglm::launch
