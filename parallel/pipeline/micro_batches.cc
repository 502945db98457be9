#include "parallel/pipeline/micro_batches.h"

#include "core/error.h"

namespace autoglm::parallel::pipeline {

std::vector<std::vector<int64_t>> splitByEdges(const std::vector<int64_t>& graphs, int parts,
                                               const std::function<int64_t(int64_t)>& edges_of) {
  AUTOGLM_CHECK(parts >= 1, "splitByEdges into ", parts, " parts");
  std::vector<int64_t> edges;
  int64_t total = 0;
  for (int64_t g : graphs) {
    edges.push_back(edges_of(g));
    total += edges.back();
  }
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(parts));
  // Graph i goes to the part its cumulative edge count (at its middle) falls in.
  int64_t before = 0;
  for (size_t i = 0; i < graphs.size(); ++i) {
    const double mid = static_cast<double>(before) + 0.5 * static_cast<double>(edges[i]);
    int p = total > 0 ? static_cast<int>(mid * parts / static_cast<double>(total)) : static_cast<int>(i % parts);
    p = std::min(std::max(p, 0), parts - 1);
    // Keep the cut consecutive: never go back to an earlier part.
    for (int q = parts - 1; q > p; --q) {
      if (!out[static_cast<size_t>(q)].empty()) {
        p = q;
        break;
      }
    }
    out[static_cast<size_t>(p)].push_back(graphs[i]);
    before += edges[i];
  }
  return out;
}

}  // namespace autoglm::parallel::pipeline
