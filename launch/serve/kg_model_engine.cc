#include "launch/serve/kg_model_engine.h"

#include <ATen/Functions.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <numeric>

#include "core/error.h"
#include "core/log.h"
#include "launch/serve/kg_request.h"
#include "launch/serve/server.h"
#include "trainer/tasks/kg_completion/kg_inference.h"
#include "trainer/tasks/kg_completion/kg_ranking.h"

namespace autoglm::launch::serve {

KgModelEngine::KgModelEngine(const trainer::KgModel& model, const core::kg::KgDataset& data, bool reciprocal)
    : model_(model),
      data_(data),
      reciprocal_(reciprocal),
      filter_(data.numRelations(), {&data.train(), &data.valid(), &data.test()}),
      grid_(parallel::ParallelGrid::alone()) {
  AUTOGLM_CHECK(model.offset() == 0 && model.rows() == data.numEntities(), "KgModelEngine: the model holds rows [",
                model.offset(), ", ", model.offset() + model.rows(), ") of ", data.numEntities(), " entities");
  const int64_t rows = reciprocal ? 2 * data.numRelations() : data.numRelations();
  AUTOGLM_CHECK(model.relations().size(0) == rows, "KgModelEngine: ", model.relations().size(0),
                " relation rows for ", data.numRelations(), " relations", reciprocal ? " (reciprocal)" : "");
}

KgAnswer topK(const float* scores, int64_t n, int64_t k) {
  std::vector<int64_t> ids;
  ids.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isnan(scores[i]) && scores[i] != -std::numeric_limits<float>::infinity()) ids.push_back(i);
  }
  const auto better = [scores](int64_t a, int64_t b) {
    return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
  };
  const auto kk = static_cast<size_t>(std::min<int64_t>(k, static_cast<int64_t>(ids.size())));
  std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(kk), ids.end(), better);
  ids.resize(kk);
  KgAnswer a;
  a.scores.reserve(kk);
  for (const int64_t id : ids) a.scores.push_back(scores[id]);
  a.ids = std::move(ids);
  return a;
}

std::vector<KgAnswer> KgModelEngine::complete(const std::vector<const KgQuery*>& batch) {
  std::vector<KgAnswer> out(batch.size());
  std::vector<size_t> tails, heads;  // one matrix product each
  for (size_t i = 0; i < batch.size(); ++i) {
    const KgQuery& q = *batch[i];
    AUTOGLM_CHECK(q.anchor >= 0 && q.anchor < numEntities() && q.relation >= 0 && q.relation < numRelations(),
                  "KgModelEngine: query (", q.anchor, ", ", q.relation, ") out of range");
    (q.predict_head && !reciprocal_ ? heads : tails).push_back(i);
  }
  if (!tails.empty()) completeGroup(batch, tails, false, &out);
  if (!heads.empty()) completeGroup(batch, heads, true, &out);
  return out;
}

void KgModelEngine::completeGroup(const std::vector<const KgQuery*>& batch, const std::vector<size_t>& which,
                                  bool head_product, std::vector<KgAnswer>* out) {
  const int64_t r = numRelations();
  std::vector<int64_t> anchors, rel_rows;
  for (const size_t i : which) {
    const KgQuery& q = *batch[i];
    anchors.push_back(q.anchor);
    rel_rows.push_back(q.predict_head && reciprocal_ ? q.relation + r : q.relation);
  }
  const auto longs = [](const std::vector<int64_t>& v) {
    return at::tensor(at::ArrayRef<int64_t>(v), at::TensorOptions().dtype(at::kLong));
  };
  at::Tensor scores = trainer::scoreQueries(model_, longs(anchors), longs(rel_rows), head_product, grid_.tp());
  scores = scores.to(at::kFloat).contiguous();
  const int64_t n = scores.size(1);
  float* s = scores.data_ptr<float>();
  for (size_t b = 0; b < which.size(); ++b) {
    const KgQuery& q = *batch[which[b]];
    float* row = s + static_cast<int64_t>(b) * n;
    if (q.filter) {
      const auto [lo, hi] = filter_.answers(q.anchor, q.predict_head ? q.relation + r : q.relation);
      for (const int64_t* a = lo; a != hi; ++a) row[*a] = -std::numeric_limits<float>::infinity();
    }
    (*out)[which[b]] = topK(row, n, q.k);
  }
}

int runKgServe(const trainer::CheckpointInfo& ckpt, const std::vector<std::string>& overrides) {
  const trainer::KgInference kg = trainer::loadKgInference(ckpt, overrides);
  const trainer::ServeConfig& cfg = kg.cfg.serve;
  KgModelEngine engine(*kg.model, kg.data, kg.cfg.kg.reciprocal);
  Server server(cfg, engine);
  const uint16_t port = server.listen();
  server.stopOnSignals();
  core::log::info("kg_completion model {} ({} {}, dim {}; {} entities, {} relations of {}); batches of up to {} "
                  "queries, waiting up to {} ms; k at most {}", ckpt.dir, core::enumName(kg.cfg.kg.score),
                  kg.cfg.kg.reciprocal ? "with reciprocal relations" : "without reciprocal relations",
                  kg.cfg.kg.dim, kg.data.numEntities(), kg.data.numRelations(), kg.cfg.kg.data_dir, cfg.max_batch,
                  cfg.max_wait_ms, kMaxK);
  const bool ipv6 = cfg.host.find(':') != std::string::npos;
  std::cout << "serving on http://" << (ipv6 ? "[" + cfg.host + "]" : cfg.host) << ":" << port << std::endl;
  server.run();
  core::log::info("drained; stopped");
  return 0;
}

}  // namespace autoglm::launch::serve
