#pragma once
// A knowledge graph on disk, in the layout of the standard benchmarks
// (WN18RR, FB15k-237 as the RotatE authors ship them) or the ids form the
// generator writes (kg_generator.h):
//   names form  entities.dict, relations.dict: "<id>\t<name>" lines, ids
//               0..N-1 (in any order, zero-padded or not); train.txt,
//               valid.txt, test.txt: "<head>\t<relation>\t<tail>" names.
//   ids form    kg.json {"format": "autoglm-kg-ids", "entities": N,
//               "relations": R} and the three triple files with decimal ids.
// CRLF line ends and a missing final newline are accepted; blank lines are
// skipped. Names are kept as strings ("00260881" stays that). Errors are
// DataError naming the file and line: a name not in the dictionary, a field
// count other than 3, a duplicate or missing dictionary id, an id out of range.
// valid.txt and test.txt may be absent (then empty).

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace autoglm::core::kg {

// One triple as ids.
struct Triple {
  int64_t head = 0, relation = 0, tail = 0;
  bool operator==(const Triple& o) const { return head == o.head && relation == o.relation && tail == o.tail; }
};

enum class KgSplit { kTrain, kValid, kTest };

class KgDataset {
 public:
  // Reads the layout in `dir`. Throws DataError.
  static KgDataset load(const std::string& dir);

  const std::string& dir() const { return dir_; }
  int64_t numEntities() const { return num_entities_; }
  int64_t numRelations() const { return num_relations_; }
  const std::vector<Triple>& split(KgSplit s) const;
  const std::vector<Triple>& train() const { return train_; }
  const std::vector<Triple>& valid() const { return valid_; }
  const std::vector<Triple>& test() const { return test_; }

  // Names (the id itself in the ids form).
  std::string entityName(int64_t id) const;
  std::string relationName(int64_t id) const;
  // The id of a name, or nothing.
  std::optional<int64_t> entityId(const std::string& name) const;
  std::optional<int64_t> relationId(const std::string& name) const;
  bool idsForm() const { return entity_names_.empty() && num_entities_ > 0; }

  // For tests and the extractor: a dataset from memory.
  static KgDataset fromTriples(int64_t entities, int64_t relations, std::vector<Triple> train,
                               std::vector<Triple> valid = {}, std::vector<Triple> test = {});

 private:
  std::string dir_;
  int64_t num_entities_ = 0, num_relations_ = 0;
  std::vector<std::string> entity_names_, relation_names_;  // empty in the ids form
  std::unordered_map<std::string, int64_t> entity_ids_, relation_ids_;
  std::vector<Triple> train_, valid_, test_;
};

// The known answers of every query, for filtered ranking: the tails of
// (head, relation) and the heads of (tail, relation), over the splits given.
// A head query is keyed by the reciprocal relation (relation + R).
class FilterIndex {
 public:
  FilterIndex() = default;
  FilterIndex(int64_t relations, const std::vector<const std::vector<Triple>*>& splits);
  // The answers of query (anchor, rel) with rel in [0, 2R): sorted, distinct.
  std::pair<const int64_t*, const int64_t*> answers(int64_t anchor, int64_t rel) const;
  int64_t size() const { return static_cast<int64_t>(values_.size()); }

 private:
  int64_t relations2_ = 0;
  std::vector<uint64_t> keys_;    // anchor * 2R + rel, sorted, one per answer
  std::vector<int64_t> values_;   // answers, sorted within a key
};

}  // namespace autoglm::core::kg
