// The engine of `autoglm serve` on a small knowledge-graph model: its top k
// against a brute force (every candidate scored on its own, all sorted by
// score then id), for tail and head queries, with and without reciprocal
// relations, filtered and not; ties at the k-th score broken by the lower id.

#include "launch/serve/kg_model_engine.h"

#include <ATen/Functions.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <vector>

namespace autoglm::launch::serve {
namespace {

using core::kg::KgDataset;
using core::kg::Triple;

constexpr int64_t kEntities = 40, kRelations = 3;

KgDataset graph() {
  std::vector<Triple> train, valid, test;
  for (int64_t i = 0; i < 60; ++i) train.push_back({(i * 7) % kEntities, i % kRelations, (i * 11 + 3) % kEntities});
  valid.push_back({1, 0, 2});
  test.push_back({1, 0, 5});
  return KgDataset::fromTriples(kEntities, kRelations, train, valid, test);
}

struct Case {
  core::kg::KgScore score;
  bool reciprocal;
};

trainer::KgModel model(const Case& c) {
  core::kg::KgConfig cfg;
  cfg.score = c.score;
  cfg.dim = 8;
  cfg.init_scale = 0.5;
  return trainer::KgModel(cfg, kEntities, c.reciprocal ? 2 * kRelations : kRelations, 7, 0, 1);
}

// Every candidate's score for `q`, each computed alone with the score function.
std::vector<float> bruteScores(const trainer::KgModel& m, const KgQuery& q, bool reciprocal) {
  at::NoGradGuard no_grad;
  const bool head_product = q.predict_head && !reciprocal;
  const int64_t row = q.predict_head && reciprocal ? q.relation + kRelations : q.relation;
  const at::Tensor query = m.fn().query(m.entities().narrow(0, q.anchor, 1), m.relations().narrow(0, row, 1), head_product);
  std::vector<float> out;
  for (int64_t c = 0; c < kEntities; ++c) out.push_back(m.fn().paired(query, m.entities().narrow(0, c, 1)).item<float>());
  return out;
}

std::vector<int64_t> bruteTopK(const std::vector<float>& s, const KgQuery& q, const KgDataset& d) {
  std::set<int64_t> known;
  if (q.filter) {
    for (const auto* split : {&d.train(), &d.valid(), &d.test()}) {
      for (const Triple& t : *split) {
        if (t.relation != q.relation) continue;
        if (!q.predict_head && t.head == q.anchor) known.insert(t.tail);
        if (q.predict_head && t.tail == q.anchor) known.insert(t.head);
      }
    }
  }
  std::vector<int64_t> ids;
  for (int64_t c = 0; c < kEntities; ++c) {
    if (!known.count(c)) ids.push_back(c);
  }
  std::sort(ids.begin(), ids.end(), [&](int64_t a, int64_t b) { return s[a] > s[b] || (s[a] == s[b] && a < b); });
  ids.resize(std::min<size_t>(ids.size(), static_cast<size_t>(q.k)));
  return ids;
}

class KgModelEngineTest : public ::testing::TestWithParam<Case> {};

TEST_P(KgModelEngineTest, TopKMatchesBruteForce) {
  const KgDataset d = graph();
  const trainer::KgModel m = model(GetParam());
  KgModelEngine engine(m, d, GetParam().reciprocal);
  std::vector<KgQuery> queries;
  for (int64_t a = 0; a < kEntities; a += 3) {
    for (int64_t r = 0; r < kRelations; ++r) {
      for (const bool head : {false, true}) {
        for (const bool filter : {true, false}) queries.push_back({a, r, head, 1 + (a + r) % 12, filter});
      }
    }
  }
  queries.push_back({1, 0, false, kEntities, true});  // every unfiltered entity
  std::vector<const KgQuery*> batch;
  for (const auto& q : queries) batch.push_back(&q);
  const std::vector<KgAnswer> got = engine.complete(batch);
  ASSERT_EQ(got.size(), queries.size());
  for (size_t i = 0; i < queries.size(); ++i) {
    const KgQuery& q = queries[i];
    const std::vector<float> s = bruteScores(m, q, GetParam().reciprocal);
    const std::vector<int64_t> want = bruteTopK(s, q, d);
    ASSERT_EQ(got[i].ids.size(), want.size()) << "query " << i;
    for (size_t j = 0; j < want.size(); ++j) {
      // Scored as one product or alone, a score may differ in its last bits:
      // an id may differ only where the two scores are that close.
      if (got[i].ids[j] != want[j]) {
        EXPECT_NEAR(s[got[i].ids[j]], s[want[j]], 1e-5) << "query " << i << " position " << j;
      }
      EXPECT_NEAR(got[i].scores[j], s[got[i].ids[j]], 1e-4 * (1 + std::abs(s[got[i].ids[j]])));
    }
  }
}

TEST_P(KgModelEngineTest, EqualRowsComeLowerIdFirst) {
  const KgDataset d = graph();
  trainer::KgModel m = model(GetParam());
  {
    at::NoGradGuard no_grad;
    for (const int64_t copy : {20, 21, 22, 23}) m.entities()[copy].copy_(m.entities()[6]);
  }
  KgModelEngine engine(m, d, GetParam().reciprocal);
  for (int64_t a = 0; a < 8; ++a) {
    const KgQuery q{a, 1, a % 2 == 1, kEntities, false};
    const KgAnswer got = engine.complete({&q})[0];
    ASSERT_EQ(got.ids.size(), static_cast<size_t>(kEntities));
    for (size_t j = 1; j < got.ids.size(); ++j) {
      EXPECT_TRUE(got.scores[j - 1] > got.scores[j] || (got.scores[j - 1] == got.scores[j] && got.ids[j - 1] < got.ids[j]))
          << "positions " << j - 1 << ", " << j;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Scores, KgModelEngineTest,
                         ::testing::Values(Case{core::kg::KgScore::kComplEx, true},
                                           Case{core::kg::KgScore::kComplEx, false},
                                           Case{core::kg::KgScore::kTransEL1, false},
                                           Case{core::kg::KgScore::kRotatE, true}));

TEST(KgTopK, TiesAtTheCutKeepTheLowerIds) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> s{0.f, 5.f, 5.f, 5.f, 5.f, 1.f, -inf, std::nanf(""), 9.f};
  KgAnswer a = topK(s.data(), static_cast<int64_t>(s.size()), 3);
  EXPECT_EQ(a.ids, (std::vector<int64_t>{8, 1, 2}));
  EXPECT_EQ(a.scores, (std::vector<float>{9.f, 5.f, 5.f}));
  a = topK(s.data(), static_cast<int64_t>(s.size()), 100);  // -inf (filtered) and NaN never come back
  EXPECT_EQ(a.ids, (std::vector<int64_t>{8, 1, 2, 3, 4, 5, 0}));
}

}  // namespace
}  // namespace autoglm::launch::serve
