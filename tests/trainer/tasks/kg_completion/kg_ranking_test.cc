// Knowledge-graph scores on hand-computed cases, head queries against tail
// queries, and the filtered ranking against a brute-force one (python-style
// loops over every entity), ties included: rank = 1 + the unfiltered other
// entities scoring >= the target (facebookresearch/kbc's count).

#include <ATen/Functions.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <functional>
#include <tuple>

#include "core/kg/kg_dataset.h"
#include "core/kg/kg_score.h"
#include "parallel/process_grid.h"
#include "trainer/tasks/kg_completion/kg_model.h"
#include "trainer/tasks/kg_completion/kg_ranking.h"
#include "trainer/tasks/kg_completion/kg_task.h"

namespace autoglm::trainer {
namespace {

using core::kg::KgScore;
using core::kg::ScoreFunction;
using core::kg::Triple;

at::Tensor row(std::vector<float> v) { return at::tensor(at::ArrayRef<float>(v)).view({1, -1}); }

TEST(KgScoreTest, HandComputedScores) {
  // ComplEx, one complex coordinate... two: h = (1+3i, 2+4i), r = (1+0i, 0+1i), t = (2+1i, 1-1i).
  const ScoreFunction cx(KgScore::kComplEx, 4, 0.0);
  const at::Tensor h = row({1, 2, 3, 4}), r = row({1, 0, 0, 1}), t = row({2, 1, 1, -1});
  // Re((1+3i)(1)(2-1i)) + Re((2+4i)(i)(1+1i)) = Re(5+5i) + Re((-4+2i)(1+i)) = 5 + (-4-2) = -1.
  EXPECT_NEAR(cx.paired(cx.query(h, r, false), t).item<float>(), -1.0f, 1e-6);
  const ScoreFunction l1(KgScore::kTransEL1, 2, 6.0);
  EXPECT_NEAR(l1.paired(l1.query(row({1, 2}), row({0.5, -1}), false), row({2, 2})).item<float>(), 6.0f - 0.5f - 1.0f,
              1e-6);
  const ScoreFunction l2(KgScore::kTransEL2, 2, 6.0);
  EXPECT_NEAR(l2.against(l2.query(row({0, 0}), row({3, 0}), false), row({0, 4})).item<float>(), 1.0f, 1e-5);
  // RotatE: a phase of pi (raw = range) turns 1+0i into -1+0i: distance to -1 is 0.
  const ScoreFunction rot(KgScore::kRotatE, 2, 6.0);
  const float range = static_cast<float>(rot.initRange());
  EXPECT_NEAR(rot.paired(rot.query(row({1, 0}), row({range}), false), row({-1, 0})).item<float>(), 6.0f, 1e-5);
}

TEST(KgScoreTest, HeadQueriesScoreTheSameTriple) {
  at::manual_seed(3);
  for (const KgScore kind : {KgScore::kTransEL1, KgScore::kTransEL2, KgScore::kRotatE, KgScore::kComplEx}) {
    const ScoreFunction fn(kind, 8, 4.0);
    const at::Tensor h = at::randn({5, 8}), t = at::randn({5, 8}), r = at::randn({5, fn.relationWidth()});
    const at::Tensor tail = fn.paired(fn.query(h, r, false), t);
    const at::Tensor head = fn.paired(fn.query(t, r, true), h);
    EXPECT_TRUE(at::allclose(tail, head, 1e-4, 1e-5)) << core::enumName(kind);
    EXPECT_TRUE(at::allclose(fn.against(fn.query(h, r, false), t).diagonal(), tail, 1e-4, 1e-4)) << core::enumName(kind);
  }
}

// Brute force: every entity scored one at a time.
std::vector<int64_t> bruteRanks(const KgModel& m, const std::vector<Triple>& triples, int64_t relations,
                                const std::vector<Triple>& known, bool reciprocal) {
  at::NoGradGuard no_grad;
  std::set<std::tuple<int64_t, int64_t, int64_t>> truth;
  for (const Triple& t : known) truth.insert({t.head, t.relation, t.tail});
  const auto& fn = m.fn();
  const at::Tensor& e = m.entities();
  std::vector<int64_t> ranks;
  for (int dir = 0; dir < 2; ++dir) {
    for (const Triple& t : triples) {
      const bool head = dir == 1;
      const int64_t anchor = head ? t.tail : t.head, target = head ? t.head : t.tail;
      const int64_t rel = head && reciprocal ? t.relation + relations : t.relation;
      const at::Tensor q = fn.query(e.narrow(0, anchor, 1), m.relations().narrow(0, rel, 1), head && !reciprocal);
      const float ts = fn.against(q, e.narrow(0, target, 1)).item<float>();
      int64_t above = 0;
      for (int64_t c = 0; c < m.totalEntities(); ++c) {
        if (c == target) continue;
        const bool known_answer = head ? truth.count({c, t.relation, t.tail}) : truth.count({t.head, t.relation, c});
        if (known_answer) continue;
        if (fn.against(q, e.narrow(0, c, 1)).item<float>() >= ts) ++above;
      }
      ranks.push_back(1 + above);
    }
  }
  return ranks;
}

TEST(KgRankingTest, FilteredRanksEqualBruteForceWithTies) {
  const int64_t entities = 23, relations = 3;
  std::mt19937_64 rng(11);
  std::vector<Triple> all;
  for (int i = 0; i < 60; ++i) {
    all.push_back({static_cast<int64_t>(rng() % entities), static_cast<int64_t>(rng() % relations),
                   static_cast<int64_t>(rng() % entities)});
  }
  const std::vector<Triple> train(all.begin(), all.begin() + 40), test(all.begin() + 40, all.end());
  const core::kg::FilterIndex filter(relations, {&train, &test});
  const auto grid = parallel::ParallelGrid::alone();
  for (const KgScore kind : {KgScore::kTransEL1, KgScore::kTransEL2, KgScore::kRotatE, KgScore::kComplEx}) {
    for (const bool reciprocal : {true, false}) {
      core::kg::KgConfig cfg;
      cfg.score = kind;
      cfg.dim = 6;
      cfg.init_scale = 0.5;
      KgModel m(cfg, entities, reciprocal ? 2 * relations : relations, 5, 0, 1);
      {
        at::NoGradGuard no_grad;  // entities 7 and 9 tie with 5 everywhere
        m.entities()[7].copy_(m.entities()[5]);
        m.entities()[9].copy_(m.entities()[5]);
      }
      const auto expected = bruteRanks(m, test, relations, all, reciprocal);
      const auto got = filteredRanks(m, test, relations, filter, {reciprocal, 7}, grid.tp());
      EXPECT_EQ(got, expected) << core::enumName(kind) << " reciprocal=" << reciprocal;
      // The same in column blocks of 2-3 entities (a table too large to score at once).
      const auto blocked = filteredRanks(m, test, relations, filter, {reciprocal, 7, 20}, grid.tp());
      EXPECT_EQ(blocked, expected) << core::enumName(kind) << " reciprocal=" << reciprocal << " blocked";
      const RankingMetrics metrics = rankFiltered(m, test, relations, filter, {reciprocal, 7}, grid);
      double mrr = 0;
      for (const int64_t r : expected) mrr += 1.0 / static_cast<double>(r);
      EXPECT_NEAR(metrics.mrr, mrr / static_cast<double>(expected.size()), 1e-12);
      EXPECT_EQ(metrics.queries, 2 * static_cast<int64_t>(test.size()));
    }
  }
}

}  // namespace
}  // namespace autoglm::trainer

namespace autoglm::trainer {
namespace {

// Config rules of model.kind: kg_completion, each an error naming its key.
TEST(KgConfigTest, RulesNameTheirKeys) {
  const auto error = [](const std::function<void(ExperimentConfig&)>& edit) {
    ExperimentConfig cfg;
    cfg.model.kind = core::model::ModelKind::kKgCompletion;
    cfg.kg.data_dir = "/nowhere";
    cfg.train.grad_clip = 0;
    edit(cfg);
    try {
      validateKgCompletion(cfg, {});
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(error([](ExperimentConfig&) {}), "");
  EXPECT_NE(error([](ExperimentConfig& c) { c.parallel.pp = 2; }).find("parallel.pp=2"), std::string::npos);
  EXPECT_NE(error([](ExperimentConfig& c) { c.kg.data_dir.clear(); }).find("kg.data_dir"), std::string::npos);
  EXPECT_NE(error([](ExperimentConfig& c) { c.kg.score = KgScore::kRotatE; }).find("kg.training=one_vs_all"),
            std::string::npos);
  EXPECT_NE(error([](ExperimentConfig& c) {
              c.kg.score = KgScore::kRotatE;
              c.kg.training = core::kg::KgTraining::kNegative;
              c.kg.n3 = 0.1;
            }).find("kg.n3"),
            std::string::npos);
  EXPECT_NE(error([](ExperimentConfig& c) { c.train.grad_clip = 1.0; }).find("train.grad_clip"), std::string::npos);
  EXPECT_NE(error([](ExperimentConfig& c) { c.train.select = SelectKind::kValLoss; }).find("train.select"),
            std::string::npos);
  EXPECT_NE(error([](ExperimentConfig& c) {
              c.parallel.dp = 4;
              c.kg.batch = 2;
            }).find("kg.batch=2"),
            std::string::npos);
}

}  // namespace
}  // namespace autoglm::trainer
