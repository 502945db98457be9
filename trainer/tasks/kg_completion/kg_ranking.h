#pragma once
// Filtered link-prediction ranking on a sharded entity table, both directions.
//
// Every triple (h, r, t) asks two queries: its tail, (h, r, ?), and its head,
// (?, r, t) (with reciprocal relations the tail query of (t, r + R); without,
// every entity e scored as (e, r, t)). A query's candidates are all entities
// except the other known answers of that query in the filter splits (the
// standard filtered protocol of Bordes et al.). Ties are counted against the
// target, as facebookresearch/kbc counts them: rank = 1 + the number of
// unfiltered candidates other than the target whose score is >= the target's.
// MRR is the mean of 1/rank over all queries; MR the mean rank; Hits@k the
// fraction with rank <= k.
//
// Collective over the grid: the queries are divided over the data-parallel
// ranks; each tensor-parallel rank scores its own slice of the entities and
// only the counts and the target's score cross the group (never the table or
// a full score row).

#include <nlohmann/json.hpp>

#include <cstdint>
#include <vector>

#include "core/kg/kg_dataset.h"
#include "parallel/process_grid.h"
#include "trainer/tasks/kg_completion/kg_model.h"

namespace autoglm::trainer {

struct RankingMetrics {
  int64_t queries = 0;
  double mrr = 0.0, mr = 0.0, hits1 = 0.0, hits3 = 0.0, hits10 = 0.0;
  // Per relation (of the triples): {queries, mrr, mr, hits1, hits3, hits10}.
  std::vector<std::array<double, 6>> per_relation;
  nlohmann::json json(const core::kg::KgDataset* names = nullptr) const;
};

struct RankingOptions {
  bool reciprocal = true;
  int64_t batch = 128;  // queries scored at once
  // Score matrices of at most this many floats: a larger table slice is
  // scored in column blocks, twice (the targets' scores, then the counts).
  int64_t score_budget = int64_t{1} << 25;
};

RankingMetrics rankFiltered(const KgModel& model, const std::vector<core::kg::Triple>& triples, int64_t relations,
                            const core::kg::FilterIndex& filter, const RankingOptions& opts,
                            const parallel::ParallelGrid& grid);

// The ranks of every query of `triples` (all tail queries, then all head
// queries), the same on every rank of `tp`. Collective over `tp`.
std::vector<int64_t> filteredRanks(const KgModel& model, const std::vector<core::kg::Triple>& triples,
                                   int64_t relations, const core::kg::FilterIndex& filter, const RankingOptions& opts,
                                   comm::Communicator& tp);

// Scores [B, rows] of queries (anchor ids, relation ids in [0, 2R) or [0, R),
// head flags) against this rank's entity rows, without gradient. Used by
// ranking and by serving's top-K.
at::Tensor scoreQueries(const KgModel& model, const at::Tensor& anchors, const at::Tensor& rel_rows,
                        bool predict_head, comm::Communicator& tp);

}  // namespace autoglm::trainer
