#include "launch/generate_command.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <ostream>

#include "core/error.h"
#include "core/kg/kg_writer.h"

namespace autoglm::launch {

namespace kg = core::kg;

namespace {

constexpr int64_t kProgressMinTriples = 1000000;
constexpr int64_t kDefaultClusters = 1000;

void require(bool ok, const std::string& msg) {
  if (!ok) throw ConfigError("generate kg: " + msg);
}

// The rules between flags (each flag's own range is checked as it is parsed).
void checkFlags(const kg::KgGeneratorOptions& o) {
  require(o.clusters <= o.entities,
          fmt::format("--clusters {} exceeds --entities {}", o.clusters, o.entities));
  require(o.valid_fraction + o.test_fraction < 1,
          fmt::format("--valid-fraction {} plus --test-fraction {} must be below 1", o.valid_fraction,
                      o.test_fraction));
  const double triples = static_cast<double>(o.entities) * o.triples_per_entity;
  require(triples >= 0.5 && triples < 0x1.0p40,
          fmt::format("--triples-per-entity {} times --entities {} gives {:.0f} triples (1 to 2^40 allowed)",
                      o.triples_per_entity, o.entities, triples));
  require(static_cast<double>(o.max_degree) * static_cast<double>(o.entities) >= static_cast<double>(o.triples()),
          fmt::format("--max-degree {} times --entities {} is below the {} triples", o.max_degree, o.entities,
                      o.triples()));
  require(static_cast<double>(o.max_degree) <= static_cast<double>(o.relations) * static_cast<double>(o.entities - 1),
          fmt::format("--max-degree {} exceeds the (relation, tail) pairs of a head, --relations {} times "
                      "(--entities {} - 1)",
                      o.max_degree, o.relations, o.entities));
  o.validate();  // the library's own check, should a rule be missing above
}

// Refuses a non-empty --out before the graph is drawn (the writer checks again).
void checkOut(const GenerateKgOptions& opts) {
  namespace fs = std::filesystem;
  std::error_code ec;
  require(!opts.out.empty(), "--out is empty");
  if (!fs::exists(opts.out, ec)) return;
  require(fs::is_directory(opts.out, ec), fmt::format("--out {} exists and is not a directory", opts.out));
  require(opts.overwrite || fs::is_empty(opts.out, ec),
          fmt::format("--out {} is not empty (--overwrite replaces its knowledge graph)", opts.out));
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

std::string parseDegree(const std::string& text, kg::KgGeneratorOptions* o) {
  if (text == "uniform") {
    o->degree = kg::DegreeDistribution::kUniform;
    return "";
  }
  if (text == "zipf") {
    o->degree = kg::DegreeDistribution::kZipf;
    return "";
  }
  const std::string prefix = "zipf:";
  if (text.compare(0, prefix.size(), prefix) == 0 && text.size() > prefix.size()) {
    const char* begin = text.c_str() + prefix.size();
    char* end = nullptr;
    const double exponent = std::strtod(begin, &end);
    if (*end == '\0' && std::isfinite(exponent) && exponent > 0) {
      o->degree = kg::DegreeDistribution::kZipf;
      o->zipf_exponent = exponent;
      return "";
    }
  }
  return "expected uniform, zipf or zipf:EXPONENT with EXPONENT above 0, got \"" + text + "\"";
}

int runGenerateKg(const GenerateKgOptions& opts, std::ostream& out, std::ostream& err) {
  kg::KgGeneratorOptions o = opts.generator;
  o.clusters = opts.clusters.value_or(std::min<int64_t>(kDefaultClusters, o.entities));
  checkFlags(o);
  checkOut(opts);
  const bool progress = o.triples() >= kProgressMinTriples;
  const auto start = std::chrono::steady_clock::now();
  if (progress) {
    err << fmt::format("generate kg: drawing {} triples over {} entities and {} relations", o.triples(), o.entities,
                       o.relations)
        << std::endl;
  }
  const kg::KnowledgeGraph graph = kg::generateKnowledgeGraph(o);
  if (progress) err << fmt::format("generate kg: drawn in {:.1f} s; writing {}", secondsSince(start), opts.out) << std::endl;
  const kg::KgWriteOptions write{opts.names ? kg::KgForm::kNames : kg::KgForm::kIds, opts.overwrite};
  const uint64_t bytes = kg::writeKnowledgeGraph(graph, opts.out, write);
  const kg::KgStats s = kg::summarize(graph);
  out << fmt::format(
             "generated {} ({} form) in {:.2f} s: train {}, valid {}, test {} triples; {} of {} entities used, {} of "
             "{} relations; max out-degree {}, mean {:.2f} over {} heads; {} bytes",
             opts.out, opts.names ? "names" : "ids", secondsSince(start), s.train, s.valid, s.test, s.entities_used,
             o.entities, s.relations_used, o.relations, s.max_out_degree, s.mean_out_degree, s.heads, bytes)
      << std::endl;
  return 0;
}

}  // namespace autoglm::launch
