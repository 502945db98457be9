#pragma once
// `autoglm generate kg`: a synthetic knowledge graph of any size written as a
// directory (core/kg/kg_writer.h gives the layout), for the scaling tests of
// knowledge-graph completion. `generate` is a group: other synthetic data
// joins it as further subcommands.

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>

#include "core/kg/kg_generator.h"

namespace autoglm::launch {

struct GenerateKgOptions {
  core::kg::KgGeneratorOptions generator;  // its clusters replaced by `clusters`
  // Planted clusters; unset: 1000, or the entities where fewer.
  std::optional<int64_t> clusters;
  std::string out;        // the directory written
  bool names = false;     // the names form (entities.dict, relations.dict, e<id>/r<id> triples)
  bool overwrite = false; // replace the graph of a non-empty directory
};

// --degree's value, "uniform", "zipf" (exponent 1.1) or "zipf:EXPONENT" with
// EXPONENT > 0, into `o`; returns an error message, empty when it is valid.
std::string parseDegree(const std::string& text, core::kg::KgGeneratorOptions* o);

// Checks the flags together (each error one line naming them: ConfigError),
// generates and writes; progress lines go to `err` for graphs of a million
// triples or more, the summary to `out`. Returns 0 or throws autoglm::Error.
int runGenerateKg(const GenerateKgOptions& opts, std::ostream& out, std::ostream& err);

}  // namespace autoglm::launch
