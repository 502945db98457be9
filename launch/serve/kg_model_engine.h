#pragma once
// The KgEngine of `autoglm serve` on a kg_completion checkpoint: the whole
// tables on one process (trainer/tasks/kg_completion/kg_inference.h), the
// graph's names, and the known answers of every query over its train, valid
// and test triples (core/kg/kg_dataset.h FilterIndex).
//
// A batch is scored in at most two matrix products (scoreQueries): the tail
// queries, and head queries as tail queries of the reciprocal relation
// r + R when the model was trained with kg.reciprocal (else as head queries
// against every entity, a second product). Filtering sets the other known
// answers of a query (its anchor's tails, or heads, under the relation) to
// -inf; they are never returned. The top k is exact with a total order:
// higher score first, then the lower id (the order shardedTopK merges in;
// at::topk alone leaves the choice among ties at the k-th score open).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/kg/kg_dataset.h"
#include "launch/serve/kg_engine.h"
#include "parallel/process_grid.h"
#include "trainer/checkpoint/checkpoint.h"
#include "trainer/tasks/kg_completion/kg_model.h"

namespace autoglm::launch::serve {

class KgModelEngine final : public KgEngine {
 public:
  // `model` (every entity row: tp 1) and `data` must outlive the engine.
  // reciprocal: the relation table has 2R rows and head queries use r + R.
  KgModelEngine(const trainer::KgModel& model, const core::kg::KgDataset& data, bool reciprocal);

  int64_t numEntities() const override { return data_.numEntities(); }
  int64_t numRelations() const override { return data_.numRelations(); }
  std::optional<int64_t> entityId(const std::string& name) const override { return data_.entityId(name); }
  std::optional<int64_t> relationId(const std::string& name) const override { return data_.relationId(name); }
  std::string entityName(int64_t id) const override { return data_.entityName(id); }
  std::string relationName(int64_t id) const override { return data_.relationName(id); }
  std::vector<KgAnswer> complete(const std::vector<const KgQuery*>& batch) override;

 private:
  // Answers the queries `which` of `batch` that share one scoring mode.
  void completeGroup(const std::vector<const KgQuery*>& batch, const std::vector<size_t>& which, bool head_product,
                     std::vector<KgAnswer>* out);

  const trainer::KgModel& model_;
  const core::kg::KgDataset& data_;
  const bool reciprocal_;
  const core::kg::FilterIndex filter_;
  parallel::ParallelGrid grid_;  // alone: scoreQueries' tp group of one
};

// The k best of `scores` [n] (higher first, equal scores: lower index first),
// leaving out -inf and NaN. Exposed for tests.
KgAnswer topK(const float* scores, int64_t n, int64_t k);

// `autoglm serve` on a kg_completion checkpoint (runServe in model_engine.h
// comes here for model.kind kg_completion): loads it with `overrides`
// (--set kg.data_dir=... included), prints "serving on http://HOST:PORT",
// serves until SIGTERM or SIGINT, drains and returns 0.
int runKgServe(const trainer::CheckpointInfo& ckpt, const std::vector<std::string>& overrides);

}  // namespace autoglm::launch::serve
