#include "trainer/tasks/kg_completion/kg_ranking.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <limits>

#include "parallel/tensor_parallel/row_sharded.h"
#include "parallel/tensor_parallel/tp_ops.h"

namespace autoglm::trainer {

namespace tp_ops = parallel::tensor_parallel;
using core::kg::Triple;

namespace {

at::Tensor longTensor(const std::vector<int64_t>& v) {
  return at::tensor(at::ArrayRef<int64_t>(v), at::TensorOptions().dtype(at::kLong));
}

// Blanks out (-inf) the known answers of each query that this rank holds,
// and the target itself, so that only other unfiltered candidates are counted.
void applyFilter(at::Tensor& scores, const std::vector<int64_t>& anchors, const std::vector<int64_t>& key_rels,
                 const std::vector<int64_t>& targets, const core::kg::FilterIndex& filter, int64_t offset) {
  const int64_t rows = scores.size(1);
  float* s = scores.data_ptr<float>();
  constexpr float kOut = -std::numeric_limits<float>::infinity();
  for (size_t b = 0; b < anchors.size(); ++b) {
    float* row = s + static_cast<int64_t>(b) * rows;
    const auto [lo, hi] = filter.answers(anchors[b], key_rels[b]);
    for (const int64_t* a = lo; a != hi; ++a) {
      if (*a >= offset && *a < offset + rows) row[*a - offset] = kOut;
    }
    if (targets[b] >= offset && targets[b] < offset + rows) row[targets[b] - offset] = kOut;
  }
}

}  // namespace

namespace {

// Scores [B, count] of queries [B, dim] against this rank's entity rows
// [first, first + count). Distances need [B, chunk, dim] at once: bounded to
// about 32 M floats.
at::Tensor scoreRows(const KgModel& model, const at::Tensor& q, int64_t first, int64_t count) {
  const at::Tensor table = model.entities().narrow(0, first, count);
  if (model.fn().bilinear()) return model.fn().against(q, table).contiguous();
  const int64_t chunk = std::max<int64_t>(1, (int64_t{1} << 25) / std::max<int64_t>(1, q.size(0) * q.size(1)));
  at::Tensor out = at::empty({q.size(0), count}, q.options());
  for (int64_t c0 = 0; c0 < count; c0 += chunk) {
    const int64_t n = std::min(chunk, count - c0);
    out.narrow(1, c0, n).copy_(model.fn().against(q, table.narrow(0, c0, n)));
  }
  return out;
}

at::Tensor queryVectors(const KgModel& model, const at::Tensor& anchors, const at::Tensor& rel_rows, bool predict_head,
                        comm::Communicator& tp) {
  const at::Tensor a = model.lookup(anchors, tp);
  return model.fn().query(a, model.relations().index_select(0, rel_rows), predict_head);
}

// 1 + the unfiltered other candidates scoring >= each target, over the group.
std::vector<int64_t> countAbove(const KgModel& model, const at::Tensor& q, const std::vector<int64_t>& anchors,
                                const std::vector<int64_t>& key_rels, const std::vector<int64_t>& targets,
                                const core::kg::FilterIndex& filter, int64_t budget, comm::Communicator& tp) {
  const int64_t bn = q.size(0), rows = model.rows(), off = model.offset();
  const int64_t block = std::max<int64_t>(1, budget / std::max<int64_t>(1, bn));
  at::Tensor s = rows <= block ? scoreRows(model, q, 0, rows) : at::Tensor();
  at::Tensor mine = at::zeros({bn}, q.options());  // the targets this rank holds
  for (int64_t b0 = 0; b0 < rows && !s.defined(); b0 += block) {
    const at::Tensor part = scoreRows(model, q, b0, std::min(block, rows - b0));
    for (int64_t b = 0; b < bn; ++b) {
      const int64_t col = targets[static_cast<size_t>(b)] - off - b0;
      if (col >= 0 && col < part.size(1)) mine[b] = part[b][col];
    }
  }
  const at::Tensor ts = s.defined() ? tp_ops::targetValues(s, longTensor(targets), off, tp)
                                    : tp_ops::reduceFromTensorParallel(mine, tp);
  at::Tensor above = at::zeros({bn}, at::kLong);
  for (int64_t b0 = 0; b0 < rows; b0 += block) {
    at::Tensor part = s.defined() ? s : scoreRows(model, q, b0, std::min(block, rows - b0));
    applyFilter(part, anchors, key_rels, targets, filter, off + b0);
    above += (part >= ts.unsqueeze(1)).sum(1).to(at::kLong);
    if (s.defined()) break;
  }
  above = above.contiguous();
  if (tp.size() > 1) tp.allreduce(above, {comm::ReduceOp::kSum})->wait();
  std::vector<int64_t> out(above.data_ptr<int64_t>(), above.data_ptr<int64_t>() + bn);
  for (auto& v : out) v += 1;
  return out;
}

}  // namespace

at::Tensor scoreQueries(const KgModel& model, const at::Tensor& anchors, const at::Tensor& rel_rows,
                        bool predict_head, comm::Communicator& tp) {
  at::NoGradGuard no_grad;
  return scoreRows(model, queryVectors(model, anchors, rel_rows, predict_head, tp), 0, model.rows());
}

std::vector<int64_t> filteredRanks(const KgModel& model, const std::vector<Triple>& triples, int64_t relations,
                                   const core::kg::FilterIndex& filter, const RankingOptions& opts,
                                   comm::Communicator& tp) {
  at::NoGradGuard no_grad;
  const int64_t n = static_cast<int64_t>(triples.size());
  std::vector<int64_t> ranks(static_cast<size_t>(2 * n));
  for (int direction = 0; direction < 2; ++direction) {
    const bool head = direction == 1;
    for (int64_t b0 = 0; b0 < n; b0 += opts.batch) {
      const int64_t bn = std::min(opts.batch, n - b0);
      std::vector<int64_t> anchors, key_rels, rel_rows, targets;
      for (int64_t i = b0; i < b0 + bn; ++i) {
        const Triple& t = triples[static_cast<size_t>(i)];
        anchors.push_back(head ? t.tail : t.head);
        targets.push_back(head ? t.head : t.tail);
        key_rels.push_back(head ? t.relation + relations : t.relation);
        rel_rows.push_back(head && opts.reciprocal ? t.relation + relations : t.relation);
      }
      const at::Tensor q =
          queryVectors(model, longTensor(anchors), longTensor(rel_rows), head && !opts.reciprocal, tp);
      const std::vector<int64_t> r = countAbove(model, q, anchors, key_rels, targets, filter, opts.score_budget, tp);
      std::copy(r.begin(), r.end(), ranks.begin() + direction * n + b0);
    }
  }
  return ranks;
}

RankingMetrics rankFiltered(const KgModel& model, const std::vector<Triple>& triples, int64_t relations,
                            const core::kg::FilterIndex& filter, const RankingOptions& opts,
                            const parallel::ParallelGrid& grid) {
  const int dp = grid.dp().size(), me = grid.dp().rank();
  const int64_t n = static_cast<int64_t>(triples.size());
  const int64_t first = tp_ops::partitionOffset(n, dp, me);
  const int64_t count = tp_ops::partitionSizes(n, dp)[static_cast<size_t>(me)];
  const std::vector<Triple> share(triples.begin() + first, triples.begin() + first + count);
  std::vector<int64_t> ranks = filteredRanks(model, share, relations, filter, opts, grid.tp());
  if (dp > 1) {
    // Every share's ranks (its tails, then its heads), back in the order one
    // process ranks them: all tails, then all heads. Integers, so the sums
    // below are the same at every layout.
    auto w = grid.dp().allgatherv(longTensor(ranks), {});
    w->wait();
    std::vector<int64_t> all(static_cast<size_t>(2 * n));
    for (int r = 0; r < dp; ++r) {
      const at::Tensor got = w->result()[static_cast<size_t>(r)].contiguous();
      const int64_t f = tp_ops::partitionOffset(n, dp, r), c = got.numel() / 2;
      const int64_t* g = got.data_ptr<int64_t>();
      for (int64_t k = 0; k < c; ++k) {
        all[static_cast<size_t>(f + k)] = g[k];
        all[static_cast<size_t>(n + f + k)] = g[c + k];
      }
    }
    ranks = std::move(all);
  }
  // Sums per relation: queries, 1/rank, rank, hits@1, @3, @10.
  std::vector<std::array<double, 6>> sums(static_cast<size_t>(relations), std::array<double, 6>{});
  for (size_t q = 0; q < ranks.size(); ++q) {
    auto& s = sums[static_cast<size_t>(triples[q % triples.size()].relation)];
    const double rank = static_cast<double>(ranks[q]);
    s[0] += 1;
    s[1] += 1.0 / rank;
    s[2] += rank;
    s[3] += rank <= 1;
    s[4] += rank <= 3;
    s[5] += rank <= 10;
  }
  RankingMetrics m;
  std::array<double, 6> t{};
  for (const auto& s : sums) {
    for (size_t k = 0; k < 6; ++k) t[k] += s[k];
  }
  m.queries = static_cast<int64_t>(t[0]);
  const double qn = std::max(1.0, t[0]);
  m.mrr = t[1] / qn;
  m.mr = t[2] / qn;
  m.hits1 = t[3] / qn;
  m.hits3 = t[4] / qn;
  m.hits10 = t[5] / qn;
  for (const auto& s : sums) {
    const double c = std::max(1.0, s[0]);
    m.per_relation.push_back({s[0], s[1] / c, s[2] / c, s[3] / c, s[4] / c, s[5] / c});
  }
  return m;
}

nlohmann::json RankingMetrics::json(const core::kg::KgDataset* names) const {
  nlohmann::json j = {{"queries", queries}, {"mrr", mrr},     {"mr", mr},
                      {"hits1", hits1},     {"hits3", hits3}, {"hits10", hits10}};
  nlohmann::json per = nlohmann::json::object();
  for (size_t r = 0; r < per_relation.size(); ++r) {
    const auto& p = per_relation[r];
    if (p[0] == 0) continue;
    const std::string name = names != nullptr ? names->relationName(static_cast<int64_t>(r)) : std::to_string(r);
    per[name] = {{"queries", static_cast<int64_t>(p[0])}, {"mrr", p[1]}, {"mr", p[2]},
                 {"hits1", p[3]}, {"hits3", p[4]}, {"hits10", p[5]}};
  }
  j["per_relation"] = per;
  return j;
}

}  // namespace autoglm::trainer
