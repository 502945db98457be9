#include "parallel/pipeline/stage_plan.h"

#include <algorithm>
#include <limits>

#include "core/error.h"

namespace autoglm::parallel::pipeline {

using autoglm::detail::concat;

std::string StagePlan::describe(const std::vector<std::string>& names) const {
  std::string out;
  for (int s = 0; s < stages(); ++s) {
    if (s > 0) out += " | ";
    out += names[begin(s)];
    if (end(s) - begin(s) > 1) out += ".." + names[end(s) - 1];
  }
  return out;
}

StagePlan stagesFromBoundaries(const std::vector<int64_t>& b, size_t parts, int pp) {
  if (static_cast<int>(b.size()) != pp - 1) {
    throw ConfigError(concat("parallel.pipeline.boundaries: ", b.size(), " given, a layout of pp=", pp, " needs ",
                             pp - 1, " (the first part of stages 1..", pp - 1, ")"));
  }
  StagePlan plan;
  plan.parts = parts;
  plan.first.push_back(0);
  for (int64_t v : b) {
    if (v <= static_cast<int64_t>(plan.first.back()) || v >= static_cast<int64_t>(parts)) {
      throw ConfigError(concat("parallel.pipeline.boundaries: ", v, " must increase and lie in (0, ", parts,
                               ") (the model has ", parts, " parts)"));
    }
    plan.first.push_back(static_cast<size_t>(v));
  }
  return plan;
}

void checkStageCount(size_t parts, int pp) {
  if (pp < 1 || static_cast<size_t>(pp) > parts) {
    throw ConfigError(concat("parallel.pp=", pp, " exceeds the model's ", parts,
                             " parts (embed, blocks, readout, head): every stage needs one"));
  }
}

StagePlan balancedStages(const std::vector<double>& c, int pp) {
  const size_t n = c.size();
  checkStageCount(n, pp);
  std::vector<double> prefix(n + 1, 0.0);
  for (size_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + c[i];
  const double inf = std::numeric_limits<double>::infinity();
  // best[k][i]: least max-stage cost splitting parts [0, i) into k stages.
  std::vector<std::vector<double>> best(static_cast<size_t>(pp) + 1, std::vector<double>(n + 1, inf));
  std::vector<std::vector<size_t>> cut(static_cast<size_t>(pp) + 1, std::vector<size_t>(n + 1, 0));
  best[0][0] = 0.0;
  for (int k = 1; k <= pp; ++k) {
    for (size_t i = static_cast<size_t>(k); i <= n; ++i) {
      for (size_t j = static_cast<size_t>(k - 1); j < i; ++j) {
        const double v = std::max(best[static_cast<size_t>(k - 1)][j], prefix[i] - prefix[j]);
        if (v < best[static_cast<size_t>(k)][i]) {
          best[static_cast<size_t>(k)][i] = v;
          cut[static_cast<size_t>(k)][i] = j;
        }
      }
    }
  }
  StagePlan plan;
  plan.parts = n;
  plan.first.assign(static_cast<size_t>(pp), 0);
  size_t i = n;
  for (int k = pp; k >= 1; --k) {
    const size_t j = cut[static_cast<size_t>(k)][i];
    plan.first[static_cast<size_t>(k - 1)] = j;
    i = j;
  }
  return plan;
}

}  // namespace autoglm::parallel::pipeline
