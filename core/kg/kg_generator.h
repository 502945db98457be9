#pragma once
// Synthetic knowledge graphs for the scaling tests of knowledge-graph
// completion: any size (entity ids up to 2^32 - 1), reproducible by seed on
// every platform, and with a planted signal so that link prediction is
// learnable.
//
// The planted structure: every entity belongs to one of `clusters` clusters;
// each relation maps a head's cluster to a tail cluster by a random
// permutation of the clusters, and the tail is drawn from the mapped cluster
// with a Zipf popularity skew (`tail_skew`). A `noise` fraction of the draws
// takes a uniformly random tail instead. Heads are drawn by popularity
// (uniform or Zipf over the entities, in a random order), each head's triples
// capped at `max_degree`. Every permutation is a keyed bijection computed on
// the fly, so memory is O(triples) plus one bit per entity, never per-entity
// strings nor O(entities^2).

#include <cstdint>
#include <vector>

#include "core/kg/random.h"

namespace autoglm::core::kg {

enum class DegreeDistribution { kUniform, kZipf };

struct KgGeneratorOptions {
  int64_t entities = 0;   // ids 0..entities-1, 1 <= entities < 2^32
  int64_t relations = 0;  // ids 0..relations-1, 1 <= relations < 2^32
  // Mean out-degree: the graph has round(entities * triples_per_entity)
  // triples over all splits (fractions below 1 give sparse graphs).
  double triples_per_entity = 4.0;
  // Popularity of the heads: uniform, or Zipf (P(rank k) ~ k^-zipf_exponent,
  // ranks in a random order of the entities).
  DegreeDistribution degree = DegreeDistribution::kZipf;
  double zipf_exponent = 1.1;  // > 0, used with kZipf
  // Most triples one head has (all splits); popularity is redrawn past it.
  int64_t max_degree = 1000;
  int64_t clusters = 1000;  // 1 <= clusters <= entities
  double noise = 0.1;       // fraction of draws with a uniformly random tail, in [0, 1]
  // Zipf exponent of a tail's popularity within its cluster; 0: uniform.
  double tail_skew = 1.0;
  // Shares of the triples in the valid and test splits (sum below 1). Their
  // triples use only entities and relations that occur in train; where too
  // few triples qualify, the splits are smaller (see KgStats).
  double valid_fraction = 0.01;
  double test_fraction = 0.01;
  uint64_t seed = 1;

  // Number of triples, all splits.
  int64_t triples() const;
  // Throws ConfigError naming the field (e.g. "max_degree").
  void validate() const;
};

struct Triple {
  uint32_t head = 0, relation = 0, tail = 0;
  bool operator==(const Triple& o) const { return head == o.head && relation == o.relation && tail == o.tail; }
};

// A generated graph: no triple occurs twice (in one split or across them), no
// triple has head == tail; each split in a random order.
struct KnowledgeGraph {
  KgGeneratorOptions options;  // what generated it (validated)
  std::vector<Triple> train, valid, test;
};

// Validates the options and generates; same options, same graph, bit for bit.
KnowledgeGraph generateKnowledgeGraph(const KgGeneratorOptions& options);

struct KgStats {
  int64_t train = 0, valid = 0, test = 0;
  int64_t entities_used = 0;   // distinct entities in any triple (head or tail)
  int64_t relations_used = 0;  // distinct relations in any triple
  int64_t heads = 0;           // distinct heads
  int64_t max_out_degree = 0;  // most triples (all splits) of one head
  double mean_out_degree = 0;  // triples per distinct head
};

KgStats summarize(const KnowledgeGraph& kg);

// The planted structure of the graphs generated from `options`, rebuilt from
// them: the oracle the generator follows (tests use it as one).
class KgStructure {
 public:
  explicit KgStructure(const KgGeneratorOptions& options);

  // The entity with head popularity rank `rank` (0: the most popular).
  uint32_t headOfRank(uint64_t rank) const;
  uint32_t clusterOf(uint32_t entity) const;
  // The tail cluster of `relation` for a head in `cluster`.
  uint32_t mappedCluster(uint32_t relation, uint32_t cluster) const;
  uint64_t clusterSize(uint32_t cluster) const;
  // Member `index` of `cluster` (index 0: the most popular tail).
  uint32_t member(uint32_t cluster, uint64_t index) const;

 private:
  uint64_t entities_, clusters_;
  uint64_t relation_key_;
  KeyedPermutation heads_, layout_;
};

}  // namespace autoglm::core::kg
