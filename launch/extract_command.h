#pragma once
// `autoglm extract`: a knowledge graph of (subject, relation, object) triples
// read from a text corpus (core/semantic/triple_extractor.h), written in the
// layout the knowledge-graph completion task reads:
//   entities.dict, relations.dict   "<id>\t<name>", ids 0..N-1 in order
//   train.txt, valid.txt, test.txt  "<head>\t<relation>\t<tail>" (names, LF)
// No triple occurs twice within or across the three files. valid and test are
// drawn at random (seeded) from the extracted triples, keeping only those
// whose head, tail and relation also occur in train, so a split may come out
// smaller than its fraction asks for on a sparse graph.

#include <cstdint>
#include <iosfwd>
#include <string>

namespace autoglm::launch {

struct ExtractCommandOptions {
  std::string corpus;  // one document per line (the text benchmarks' corpus.txt); UTF-8, CRLF allowed
  std::string out;     // directory written; must be empty or absent unless overwrite
  int64_t max_docs = 0;  // > 0: only the first max_docs lines
  double valid_fraction = 0.05;
  double test_fraction = 0.05;
  uint64_t seed = 1;
  // A triple is kept when it was extracted from at least min_count documents.
  int64_t min_count = 1;
  bool overwrite = false;  // write into a non-empty directory, replacing the five files
  int64_t threads = 1;     // documents parsed at once
  double progress_seconds = 5.0;  // between progress lines on err
};

// Reads the whole corpus first (a line that is not valid UTF-8 is a DataError
// naming file and line), extracts, splits and writes. Progress lines go to
// `err`, the summary (documents, sentences, triples, entities, relations,
// seconds) to `out`. Returns 0 or throws ConfigError (options) or DataError
// (files).
int runExtract(const ExtractCommandOptions& opts, std::ostream& out, std::ostream& err);

}  // namespace autoglm::launch
