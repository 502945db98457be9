#pragma once
// Writes a knowledge graph as a directory, in one of two forms:
//
//   ids (the default):
//     kg.json    {"format": "autoglm-kg-ids", "version": 1, "entities": N,
//                 "relations": R, "generator": {every option, the seed}}
//     train.txt, valid.txt, test.txt   "<head_id>\t<relation_id>\t<tail_id>\n"
//   names (the form of the standard benchmarks, e.g. WN18RR):
//     entities.dict   "<id>\te<id>\n" for ids 0..N-1 in order
//     relations.dict  "<id>\tr<id>\n" for ids 0..R-1 in order
//     train.txt, valid.txt, test.txt   "e<head>\tr<relation>\te<tail>\n"
//
// Ids are decimal, lines end in LF. Each file is written through a buffer to
// a temporary name beside it and renamed once every file is complete (kg.json
// last), so a failure leaves no half-written file; errors name the file.

#include <cstdint>
#include <string>

#include "core/kg/kg_generator.h"

namespace autoglm::core::kg {

enum class KgForm { kIds, kNames };

struct KgWriteOptions {
  KgForm form = KgForm::kIds;
  // Replace the files of an existing non-empty directory (and remove the other
  // form's files there); without it such a directory is a ConfigError.
  bool overwrite = false;
};

// Creates `dir` where missing and writes; returns the bytes written. Throws
// DataError naming the file on an I/O failure.
uint64_t writeKnowledgeGraph(const KnowledgeGraph& kg, const std::string& dir, const KgWriteOptions& options);

}  // namespace autoglm::core::kg
