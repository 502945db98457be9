#pragma once
// What the HTTP server asks of a knowledge-graph completion model, so that
// the server holds no LibTorch and its tests can use a fake (as engine.h for
// classification). The real one is launch/serve/kg_model_engine.h: a
// kg_completion checkpoint's tables on one process and its graph's names and
// known triples.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "launch/serve/engine.h"

namespace autoglm::launch::serve {

// One query with its names resolved: the anchor entity, the relation (as in
// the dataset, [0, R)), which side is asked for, how many answers, and
// whether the anchor's other known answers are left out.
struct KgQuery {
  int64_t anchor = 0;
  int64_t relation = 0;
  bool predict_head = false;  // false: (anchor, relation, ?); true: (?, relation, anchor)
  int64_t k = 10;             // 1..numEntities()
  bool filter = true;
};

// The k best entities of a query, best first; equal scores: the lower id
// first. A filtered query may get fewer than k (every other entity known).
struct KgAnswer {
  std::vector<int64_t> ids;
  std::vector<float> scores;
};

// A query as the batcher's input (BasicBatcher<KgAnswer>).
struct KgQueryInput final : PreparedInput {
  explicit KgQueryInput(const KgQuery& q) : query(q) {}
  KgQuery query;
};

class KgEngine {
 public:
  virtual ~KgEngine() = default;
  virtual int64_t numEntities() const = 0;
  virtual int64_t numRelations() const = 0;
  // Names as in the dataset (the decimal id in the ids form). Thread-safe.
  virtual std::optional<int64_t> entityId(const std::string& name) const = 0;
  virtual std::optional<int64_t> relationId(const std::string& name) const = 0;
  virtual std::string entityName(int64_t id) const = 0;
  virtual std::string relationName(int64_t id) const = 0;
  // Answers a batch of queries, one answer per query in order (scored
  // together where they share a side). Called from one thread at a time.
  virtual std::vector<KgAnswer> complete(const std::vector<const KgQuery*>& batch) = 0;
};

}  // namespace autoglm::launch::serve
