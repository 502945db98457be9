// core/kg/kg_generator: counts, uniqueness, the splits' entities, the degree
// distribution against its analytic shares, the cap, and the planted signal.

#include "core/kg/kg_generator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/error.h"

namespace autoglm::core::kg {
namespace {

KgGeneratorOptions smallOptions() {
  KgGeneratorOptions o;
  o.entities = 2000;
  o.relations = 20;
  o.triples_per_entity = 4;
  o.clusters = 20;
  o.max_degree = 200;
  return o;
}

uint64_t key(const Triple& t) { return (uint64_t{t.head} << 32 | t.tail) * 1000003 + t.relation; }

TEST(KgGenerator, CountsMatchTheOptions) {
  const KgGeneratorOptions o = smallOptions();
  const KnowledgeGraph kg = generateKnowledgeGraph(o);
  EXPECT_EQ(kg.valid.size(), 80u);
  EXPECT_EQ(kg.test.size(), 80u);
  EXPECT_EQ(kg.train.size(), 8000u - 160u);
  const KgStats s = summarize(kg);
  EXPECT_EQ(s.train + s.valid + s.test, 8000);
  EXPECT_LE(s.max_out_degree, o.max_degree);
  EXPECT_EQ(s.relations_used, 20);
  EXPECT_GT(s.entities_used, 1000);
  EXPECT_LE(s.entities_used, 2000);
  EXPECT_NEAR(s.mean_out_degree * static_cast<double>(s.heads), 8000.0, 1e-6);
}

TEST(KgGenerator, SameSeedSameGraphOtherSeedOtherGraph) {
  KgGeneratorOptions o = smallOptions();
  const KnowledgeGraph a = generateKnowledgeGraph(o), b = generateKnowledgeGraph(o);
  EXPECT_EQ(a.train, b.train);
  EXPECT_EQ(a.valid, b.valid);
  EXPECT_EQ(a.test, b.test);
  o.seed = 2;
  const KnowledgeGraph c = generateKnowledgeGraph(o);
  EXPECT_NE(a.train, c.train);
}

TEST(KgGenerator, NoDuplicateNoSelfLoopAndHeldOutSeenInTrain) {
  for (DegreeDistribution d : {DegreeDistribution::kZipf, DegreeDistribution::kUniform}) {
    KgGeneratorOptions o = smallOptions();
    o.degree = d;
    o.relations = 3;  // few relations: many draws collide and are drawn again
    o.valid_fraction = 0.1;
    o.test_fraction = 0.1;
    const KnowledgeGraph kg = generateKnowledgeGraph(o);
    std::unordered_set<uint64_t> seen;
    std::unordered_set<uint32_t> train_entities, train_relations;
    for (const Triple& t : kg.train) {
      train_entities.insert(t.head);
      train_entities.insert(t.tail);
      train_relations.insert(t.relation);
    }
    for (const auto* split : {&kg.train, &kg.valid, &kg.test}) {
      for (const Triple& t : *split) {
        EXPECT_TRUE(seen.insert(key(t)).second) << t.head << " " << t.relation << " " << t.tail;
        EXPECT_NE(t.head, t.tail);
        ASSERT_LT(t.head, 2000u);
        ASSERT_LT(t.tail, 2000u);
        ASSERT_LT(t.relation, 3u);
        if (split != &kg.train) {
          EXPECT_EQ(train_entities.count(t.head), 1u);
          EXPECT_EQ(train_entities.count(t.tail), 1u);
          EXPECT_EQ(train_relations.count(t.relation), 1u);
        }
      }
    }
    EXPECT_EQ(seen.size(), 8000u);
    EXPECT_EQ(kg.valid.size(), 800u);
  }
}

// Heads per popularity rank, all splits.
std::vector<int64_t> headCountsByRank(const KnowledgeGraph& kg, const KgStructure& s, uint64_t ranks) {
  std::unordered_map<uint32_t, int64_t> per_entity;
  for (const auto* split : {&kg.train, &kg.valid, &kg.test}) {
    for (const Triple& t : *split) ++per_entity[t.head];
  }
  std::vector<int64_t> counts(ranks);
  for (uint64_t r = 0; r < ranks; ++r) counts[r] = per_entity[s.headOfRank(r)];
  return counts;
}

TEST(KgGenerator, ZipfTopHeadsHoldTheirAnalyticShare) {
  KgGeneratorOptions o;
  o.entities = 100000;
  o.relations = 50;
  o.triples_per_entity = 2;
  o.zipf_exponent = 1.1;
  o.max_degree = 1000000;  // no cap
  o.clusters = 100;
  const KnowledgeGraph kg = generateKnowledgeGraph(o);
  const std::vector<int64_t> counts = headCountsByRank(kg, KgStructure(o), 1000);
  double norm = 0;
  for (int64_t k = 1; k <= o.entities; ++k) norm += std::pow(static_cast<double>(k), -o.zipf_exponent);
  double expected = 0, got = 0;
  for (size_t k = 0; k < counts.size(); ++k) {
    expected += std::pow(static_cast<double>(k + 1), -o.zipf_exponent) / norm;
    got += static_cast<double>(counts[k]) / static_cast<double>(o.triples());
    if (k == 0 || k == 9 || k == 99 || k == 999) {
      EXPECT_NEAR(got, expected, 0.03 * expected) << "share of the top " << k + 1 << " heads";
    }
  }
  // Uniform heads: the most popular holds a tiny share.
  o.degree = DegreeDistribution::kUniform;
  EXPECT_LT(summarize(generateKnowledgeGraph(o)).max_out_degree, 20);
}

TEST(KgGenerator, MaxDegreeCapsTheHeads) {
  KgGeneratorOptions o = smallOptions();
  o.zipf_exponent = 1.5;
  o.max_degree = 20;
  const KnowledgeGraph kg = generateKnowledgeGraph(o);
  const KgStats s = summarize(kg);
  EXPECT_EQ(s.max_out_degree, 20);  // binds: uncapped, the top head would have over 1000
  EXPECT_EQ(s.train + s.valid + s.test, 8000);
  const std::vector<int64_t> counts = headCountsByRank(kg, KgStructure(o), 10);
  for (int64_t c : counts) EXPECT_EQ(c, 20);
}

// Mean rank of the true tail among all entities by `score` (ties share the
// mean of their ranks), over the test triples.
template <typename Score>
double meanRank(const KnowledgeGraph& kg, Score score) {
  const auto n = static_cast<uint32_t>(kg.options.entities);
  double total = 0;
  for (const Triple& t : kg.test) {
    const double truth = score(t.head, t.relation, t.tail);
    int64_t above = 0, ties = 0;
    for (uint32_t e = 0; e < n; ++e) {
      const double s = score(t.head, t.relation, e);
      above += s > truth;
      ties += s == truth;
    }
    total += static_cast<double>(above) + (static_cast<double>(ties) + 1) / 2;
  }
  return total / static_cast<double>(kg.test.size());
}

// A baseline from train alone: how often the entity is a tail of the relation.
std::unordered_map<uint64_t, double> tailCounts(const KnowledgeGraph& kg) {
  std::unordered_map<uint64_t, double> counts;
  for (const Triple& t : kg.train) counts[uint64_t{t.relation} << 32 | t.tail] += 1;
  return counts;
}

double frequencyMeanRank(const KnowledgeGraph& kg) {
  const std::unordered_map<uint64_t, double> counts = tailCounts(kg);
  return meanRank(kg, [&counts](uint32_t, uint32_t r, uint32_t e) {
    const auto it = counts.find(uint64_t{r} << 32 | e);
    return it == counts.end() ? 0.0 : it->second;
  });
}

TEST(KgGenerator, PlantedSignalMakesTailsPredictable) {
  KgGeneratorOptions o;
  o.entities = 5000;
  o.relations = 10;
  o.clusters = 50;
  o.noise = 0.1;
  o.triples_per_entity = 8;
  // Below a head's 10 x 100 planted (relation, tail) pairs, so that few draws
  // spill into uniform tails.
  o.max_degree = 200;
  o.test_fraction = 0.02;
  const KnowledgeGraph kg = generateKnowledgeGraph(o);
  const KgStructure s(o);
  std::vector<uint32_t> cluster_of(static_cast<size_t>(o.entities)), mapped(static_cast<size_t>(o.relations * o.clusters));
  for (uint32_t e = 0; e < cluster_of.size(); ++e) cluster_of[e] = s.clusterOf(e);
  for (uint32_t i = 0; i < mapped.size(); ++i) mapped[i] = s.mappedCluster(i / 50, i % 50);
  // The oracle knows the clusters: a tail in the mapped cluster scores 1.
  const auto in_mapped = [&](uint32_t h, uint32_t r, uint32_t e) {
    return cluster_of[e] == mapped[r * 50 + cluster_of[h]] ? 1.0 : 0.0;
  };
  int64_t planted = 0;
  for (const Triple& t : kg.test) planted += in_mapped(t.head, t.relation, t.tail) > 0;
  EXPECT_GT(static_cast<double>(planted), 0.85 * static_cast<double>(kg.test.size()));
  // Noise 0.1: 0.9 of the tails rank within their 100-entity cluster (about
  // 50), the rest about half the entities: about 0.12 of chance.
  const double chance = (static_cast<double>(o.entities) + 1) / 2;
  EXPECT_LT(meanRank(kg, in_mapped), 0.2 * chance);
  const double frequency = frequencyMeanRank(kg);
  EXPECT_LT(frequency, 0.8 * chance);
  // Without the structure (noise 1) neither beats chance.
  o.noise = 1;
  const KnowledgeGraph random = generateKnowledgeGraph(o);
  EXPECT_NEAR(meanRank(random, in_mapped), chance, 0.1 * chance);
  EXPECT_GT(frequencyMeanRank(random), 0.9 * chance);
}

TEST(KgGenerator, SparseGraphOverManyEntities) {
  KgGeneratorOptions o;
  o.entities = 3000000;
  o.relations = 100;
  o.triples_per_entity = 0.05;  // 150000 triples
  const KnowledgeGraph kg = generateKnowledgeGraph(o);
  const KgStats s = summarize(kg);
  EXPECT_EQ(s.train + s.valid + s.test, 150000);
  EXPECT_EQ(s.valid, 1500);
  EXPECT_EQ(s.test, 1500);
}

TEST(KgGenerator, BadOptionsNameTheField) {
  const auto message = [](KgGeneratorOptions o) -> std::string {
    try {
      o.validate();
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  KgGeneratorOptions o = smallOptions();
  EXPECT_EQ(message(o), "");
  o.entities = 0;
  EXPECT_NE(message(o).find("entities"), std::string::npos);
  o = smallOptions();
  o.clusters = 3000;
  EXPECT_NE(message(o).find("clusters"), std::string::npos);
  o = smallOptions();
  o.max_degree = 3;
  EXPECT_NE(message(o).find("max_degree 3 times entities 2000"), std::string::npos);
  o = smallOptions();
  o.valid_fraction = 0.6;
  o.test_fraction = 0.5;
  EXPECT_NE(message(o).find("valid_fraction and test_fraction"), std::string::npos);
  o = smallOptions();
  o.noise = 1.5;
  EXPECT_NE(message(o).find("noise"), std::string::npos);
}

}  // namespace
}  // namespace autoglm::core::kg
