#include "core/kg/kg_generator.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <unordered_set>
#include <utility>

#include "core/error.h"
#include "core/splitmix.h"

namespace autoglm::core::kg {

namespace {

// Keys of the permutations and streams: fixed, so a seed means the same graph
// in every version that keeps them.
constexpr uint64_t kHeadKey = 0x68656164ull;      // "head"
constexpr uint64_t kLayoutKey = 0x6c61796full;    // "layo"
constexpr uint64_t kRelationKey = 0x72656c61ull;  // "rela"
enum Stream : uint64_t { kHeadStream = 1, kTailStream = 2, kSplitStream = 3 };

// Attempts at a new (relation, tail) for one head before the draw falls back
// to uniform tails, and before it gives up.
constexpr int kPlantedAttempts = 32;
constexpr int kMaxAttempts = 100000;

void require(bool ok, const std::string& msg) {
  if (!ok) throw ConfigError("kg generator: " + msg);
}

// One head popularity rank and its number of triples.
struct HeadRun {
  uint64_t rank;
  int64_t degree;
};

class HeadSampler {
 public:
  explicit HeadSampler(const KgGeneratorOptions& o) : n_(static_cast<uint64_t>(o.entities)) {
    if (o.degree == DegreeDistribution::kZipf) zipf_.emplace(n_, o.zipf_exponent);
  }
  uint64_t operator()(Rng& rng) const { return zipf_ ? zipf_->sample(rng) : rng.below(n_); }

 private:
  uint64_t n_;
  std::optional<ZipfSampler> zipf_;
};

// Adds the sorted ranks `drawn` to the sorted runs, capping each at `cap`;
// ranks that reach the cap go to `full`. Returns the number of draws over it.
int64_t mergeRuns(std::vector<HeadRun>& runs, std::vector<uint64_t>& drawn, int64_t cap,
                  std::unordered_set<uint64_t>& full) {
  std::sort(drawn.begin(), drawn.end());
  std::vector<HeadRun> merged;
  merged.reserve(runs.size() + drawn.size());
  size_t i = 0, j = 0;
  while (i < runs.size() || j < drawn.size()) {
    if (j == drawn.size() || (i < runs.size() && runs[i].rank < drawn[j])) {
      merged.push_back(runs[i++]);
    } else if (i < runs.size() && runs[i].rank == drawn[j]) {
      merged.push_back(runs[i++]);
      ++merged.back().degree;
      ++j;
    } else {
      merged.push_back({drawn[j++], 1});
    }
    while (j < drawn.size() && drawn[j] == merged.back().rank) {
      ++merged.back().degree;
      ++j;
    }
  }
  int64_t excess = 0;
  for (HeadRun& run : merged) {
    if (run.degree >= cap) {
      excess += run.degree - cap;
      run.degree = cap;
      full.insert(run.rank);
    }
  }
  runs.swap(merged);
  return excess;
}

// Each head's number of triples: `triples` popularity draws, those over
// max_degree drawn again among the heads not yet full. Sorted by rank.
std::vector<HeadRun> drawHeads(const KgGeneratorOptions& o, Rng& rng) {
  const HeadSampler sampler(o);
  std::vector<HeadRun> runs;
  std::unordered_set<uint64_t> full;
  int64_t pending = o.triples();
  while (pending > 0) {
    std::vector<uint64_t> drawn(static_cast<size_t>(pending));
    for (uint64_t& rank : drawn) {
      do rank = sampler(rng);
      while (!full.empty() && full.count(rank) != 0);
    }
    pending = mergeRuns(runs, drawn, o.max_degree, full);
  }
  return runs;
}

// A head's (relation, tail) pairs drawn so far, packed as relation * entities + tail.
class PairSet {
 public:
  void clear(int64_t expected) {
    small_.clear();
    use_large_ = expected > 64;
    if (use_large_) {
      large_ = std::unordered_set<uint64_t>();
      large_.reserve(static_cast<size_t>(2 * expected));
    }
  }
  bool insert(uint64_t key) {
    if (use_large_) return large_.insert(key).second;
    if (std::find(small_.begin(), small_.end(), key) != small_.end()) return false;
    small_.push_back(key);
    return true;
  }

 private:
  bool use_large_ = false;
  std::vector<uint64_t> small_;
  std::unordered_set<uint64_t> large_;
};

class TailSampler {
 public:
  TailSampler(const KgGeneratorOptions& o, const KgStructure& s) : o_(o), s_(s) {
    const uint64_t n = static_cast<uint64_t>(o.entities), c = static_cast<uint64_t>(o.clusters);
    if (o.tail_skew > 0) {
      small_.emplace(n / c, o.tail_skew);
      if (n % c != 0) large_.emplace(n / c + 1, o.tail_skew);
    }
  }

  // A tail for a head in `cluster` under `relation`: planted or (noise, or
  // `planted` false) uniform.
  uint32_t draw(uint32_t relation, uint32_t cluster, bool planted, Rng& rng) const {
    const double u = rng.uniform01();
    if (!planted || u < o_.noise) return static_cast<uint32_t>(rng.below(static_cast<uint64_t>(o_.entities)));
    const uint32_t c = s_.mappedCluster(relation, cluster);
    const uint64_t size = s_.clusterSize(c);
    uint64_t index = 0;
    if (!small_) {
      index = rng.below(size);
    } else {
      index = (size == small_->size() ? *small_ : *large_).sample(rng);
    }
    return s_.member(c, index);
  }

 private:
  const KgGeneratorOptions& o_;
  const KgStructure& s_;
  std::optional<ZipfSampler> small_, large_;  // cluster sizes n / c and n / c + 1
};

std::vector<Triple> drawTriples(const KgGeneratorOptions& o, const KgStructure& s, const std::vector<HeadRun>& runs,
                                Rng& rng) {
  const TailSampler tails(o, s);
  const uint64_t n = static_cast<uint64_t>(o.entities), r = static_cast<uint64_t>(o.relations);
  std::vector<Triple> triples;
  triples.reserve(static_cast<size_t>(o.triples()));
  PairSet seen;
  for (const HeadRun& run : runs) {
    const uint32_t head = s.headOfRank(run.rank);
    const uint32_t cluster = s.clusterOf(head);
    seen.clear(run.degree);
    for (int64_t k = 0; k < run.degree; ++k) {
      for (int attempt = 0;; ++attempt) {
        if (attempt == kMaxAttempts) {
          throw Error("kg generator: found no new (relation, tail) for head " + std::to_string(head) + " after " +
                      std::to_string(kMaxAttempts) + " draws (degree " + std::to_string(run.degree) + ")");
        }
        const uint32_t relation = static_cast<uint32_t>(rng.below(r));
        const uint32_t tail = tails.draw(relation, cluster, attempt < kPlantedAttempts, rng);
        if (tail != head && seen.insert(relation * n + tail)) {
          triples.push_back({head, relation, tail});
          break;
        }
      }
    }
  }
  return triples;
}

void setBit(std::vector<uint64_t>& bits, uint64_t i) { bits[i >> 6] |= 1ull << (i & 63); }
bool testBit(const std::vector<uint64_t>& bits, uint64_t i) { return (bits[i >> 6] >> (i & 63)) & 1; }

enum : uint8_t { kTrain = 0, kValid = 1, kTest = 2 };

// Shuffles the triples; those that bring an entity or relation not yet seen
// stay in train, and valid and test are drawn among the others.
KnowledgeGraph splitTriples(const KgGeneratorOptions& o, std::vector<Triple> all, Rng& rng) {
  for (size_t i = all.size(); i > 1; --i) std::swap(all[i - 1], all[rng.below(i)]);
  std::vector<uint64_t> entity_seen(static_cast<size_t>(o.entities / 64 + 1));
  std::vector<uint64_t> relation_seen(static_cast<size_t>(o.relations / 64 + 1));
  std::vector<size_t> eligible;
  for (size_t i = 0; i < all.size(); ++i) {
    const Triple& t = all[i];
    if (testBit(entity_seen, t.head) && testBit(entity_seen, t.tail) && testBit(relation_seen, t.relation)) {
      eligible.push_back(i);
    } else {
      setBit(entity_seen, t.head);
      setBit(entity_seen, t.tail);
      setBit(relation_seen, t.relation);
    }
  }
  const int64_t total = static_cast<int64_t>(all.size());
  const int64_t want_valid = std::llround(static_cast<double>(total) * o.valid_fraction);
  const int64_t want = want_valid + std::llround(static_cast<double>(total) * o.test_fraction);
  const int64_t take = std::min<int64_t>(want, static_cast<int64_t>(eligible.size()));
  const int64_t n_valid = want == 0 ? 0 : take * want_valid / want;
  std::vector<uint8_t> split(all.size(), kTrain);
  for (int64_t i = 0; i < take; ++i) {
    const size_t j = static_cast<size_t>(i) + rng.below(eligible.size() - static_cast<size_t>(i));
    std::swap(eligible[static_cast<size_t>(i)], eligible[j]);
    split[eligible[static_cast<size_t>(i)]] = i < n_valid ? kValid : kTest;
  }
  KnowledgeGraph kg;
  kg.options = o;
  kg.train.reserve(all.size() - static_cast<size_t>(take));
  for (size_t i = 0; i < all.size(); ++i) {
    (split[i] == kTrain ? kg.train : split[i] == kValid ? kg.valid : kg.test).push_back(all[i]);
  }
  return kg;
}

}  // namespace

int64_t KgGeneratorOptions::triples() const {
  return std::llround(static_cast<double>(entities) * triples_per_entity);
}

void KgGeneratorOptions::validate() const {
  constexpr int64_t kMaxId = (1ll << 32) - 1;
  require(entities >= 1 && entities <= kMaxId, "entities must be in [1, 2^32 - 1], got " + std::to_string(entities));
  require(relations >= 1 && relations <= kMaxId,
          "relations must be in [1, 2^32 - 1], got " + std::to_string(relations));
  require(std::isfinite(triples_per_entity) && triples_per_entity > 0 &&
              static_cast<double>(entities) * triples_per_entity < 0x1.0p40 && triples() >= 1,
          "triples_per_entity must give between 1 and 2^40 triples, got " + std::to_string(triples_per_entity));
  require(degree == DegreeDistribution::kUniform || (std::isfinite(zipf_exponent) && zipf_exponent > 0),
          "zipf_exponent must be above 0, got " + std::to_string(zipf_exponent));
  require(max_degree >= 1, "max_degree must be at least 1, got " + std::to_string(max_degree));
  require(static_cast<double>(max_degree) * static_cast<double>(entities) >= static_cast<double>(triples()),
          "max_degree " + std::to_string(max_degree) + " times entities " + std::to_string(entities) +
              " is below the " + std::to_string(triples()) + " triples");
  require(static_cast<double>(max_degree) <= static_cast<double>(relations) * static_cast<double>(entities - 1),
          "max_degree " + std::to_string(max_degree) + " exceeds the distinct (relation, tail) pairs of a head");
  require(clusters >= 1 && clusters <= entities,
          "clusters must be in [1, entities], got " + std::to_string(clusters));
  require(noise >= 0 && noise <= 1, "noise must be in [0, 1], got " + std::to_string(noise));
  require(std::isfinite(tail_skew) && tail_skew >= 0, "tail_skew must be 0 or above, got " + std::to_string(tail_skew));
  require(valid_fraction >= 0 && test_fraction >= 0 && valid_fraction + test_fraction < 1,
          "valid_fraction and test_fraction must be 0 or above with a sum below 1, got " +
              std::to_string(valid_fraction) + " and " + std::to_string(test_fraction));
}

KnowledgeGraph generateKnowledgeGraph(const KgGeneratorOptions& options) {
  options.validate();
  const KgStructure structure(options);
  Rng head_rng(options.seed, kHeadStream), tail_rng(options.seed, kTailStream), split_rng(options.seed, kSplitStream);
  const std::vector<HeadRun> runs = drawHeads(options, head_rng);
  return splitTriples(options, drawTriples(options, structure, runs, tail_rng), split_rng);
}

KgStats summarize(const KnowledgeGraph& kg) {
  KgStats s;
  s.train = static_cast<int64_t>(kg.train.size());
  s.valid = static_cast<int64_t>(kg.valid.size());
  s.test = static_cast<int64_t>(kg.test.size());
  std::vector<uint64_t> entity_seen(static_cast<size_t>(kg.options.entities / 64 + 1));
  std::vector<uint64_t> relation_seen(static_cast<size_t>(kg.options.relations / 64 + 1));
  std::vector<uint32_t> heads;
  heads.reserve(static_cast<size_t>(s.train + s.valid + s.test));
  for (const std::vector<Triple>* split : {&kg.train, &kg.valid, &kg.test}) {
    for (const Triple& t : *split) {
      setBit(entity_seen, t.head);
      setBit(entity_seen, t.tail);
      setBit(relation_seen, t.relation);
      heads.push_back(t.head);
    }
  }
  for (uint64_t w : entity_seen) s.entities_used += __builtin_popcountll(w);
  for (uint64_t w : relation_seen) s.relations_used += __builtin_popcountll(w);
  std::sort(heads.begin(), heads.end());
  for (size_t i = 0; i < heads.size();) {
    size_t j = i;
    while (j < heads.size() && heads[j] == heads[i]) ++j;
    ++s.heads;
    s.max_out_degree = std::max<int64_t>(s.max_out_degree, static_cast<int64_t>(j - i));
    i = j;
  }
  if (s.heads > 0) s.mean_out_degree = static_cast<double>(heads.size()) / static_cast<double>(s.heads);
  return s;
}

KgStructure::KgStructure(const KgGeneratorOptions& o)
    : entities_(static_cast<uint64_t>(o.entities)),
      clusters_(static_cast<uint64_t>(o.clusters)),
      relation_key_(splitmix64(o.seed ^ kRelationKey)),
      heads_(entities_, splitmix64(o.seed ^ kHeadKey)),
      layout_(entities_, splitmix64(o.seed ^ kLayoutKey)) {}

uint32_t KgStructure::headOfRank(uint64_t rank) const { return static_cast<uint32_t>(heads_.forward(rank)); }

// An entity's place in the layout is cluster + index * clusters.
uint32_t KgStructure::clusterOf(uint32_t entity) const {
  return static_cast<uint32_t>(layout_.forward(entity) % clusters_);
}

uint32_t KgStructure::mappedCluster(uint32_t relation, uint32_t cluster) const {
  return static_cast<uint32_t>(KeyedPermutation(clusters_, splitmix64(relation_key_ + relation)).forward(cluster));
}

uint64_t KgStructure::clusterSize(uint32_t cluster) const { return (entities_ - cluster + clusters_ - 1) / clusters_; }

uint32_t KgStructure::member(uint32_t cluster, uint64_t index) const {
  return static_cast<uint32_t>(layout_.inverse(cluster + index * clusters_));
}

}  // namespace autoglm::core::kg
