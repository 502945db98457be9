#pragma once
// The scoring functions of knowledge-graph embeddings, on rows of an entity
// table [*, dim] and a relation table [*, relationWidth()]:
//   transe_l1/l2  score = gamma - ||h + r - t||_p
//   rotate        h, t complex ([re | im], dim/2 each), r a phase per complex
//                 coordinate (raw / (range / pi), range = (gamma + 2) / (dim/2));
//                 score = gamma - sum_i |h_i e^{i phase_i} - t_i|
//   complex       score = Re(sum_i h_i r_i conj(t_i)) ([re | im] rows)
// Every score is written as a query (the anchor and the relation, for the
// side asked for) against candidate rows, so that one query is scored against
// a batch's negatives or a shard of the whole table the same way:
//   predicting tails: query(h, r) against t;  predicting heads: query(t, r,
//   head=true) against h (complex: Re(e w) with w = r conj(t); transe: t - r;
//   rotate: t rotated back).
// All are differentiable (LibTorch autograd); moduli are clamped away from 0
// so that their gradient is finite.

#include <ATen/core/Tensor.h>

#include "core/kg/kg_config.h"

namespace autoglm::core::kg {

class ScoreFunction {
 public:
  ScoreFunction(KgScore kind, int64_t dim, double gamma);

  KgScore kind() const { return kind_; }
  int64_t dim() const { return dim_; }
  // Width of a relation row: dim/2 phases for rotate, dim otherwise.
  int64_t relationWidth() const;
  // Whether scores against all candidates are one matrix product (and so
  // affordable against a whole table in training).
  bool bilinear() const { return kind_ == KgScore::kComplEx || kind_ == KgScore::kTransEL2; }

  // [B, dim] queries from anchors [B, dim] and relation rows [B, width].
  at::Tensor query(const at::Tensor& anchor, const at::Tensor& relation, bool predict_head) const;
  // Scores [B, N] of every query against every candidate row [N, dim].
  at::Tensor against(const at::Tensor& query, const at::Tensor& candidates) const;
  // Scores [B] of query b against candidate row b.
  at::Tensor paired(const at::Tensor& query, const at::Tensor& candidates) const;
  // The N3 regulariser's sum over a batch of rows (complex: cubed moduli of
  // the complex coordinates; transe: cubed absolute values). rotate has none.
  at::Tensor n3(const at::Tensor& head, const at::Tensor& relation, const at::Tensor& tail) const;
  // Fills rows [first, first + rows.size(0)) of a table with the kind's
  // initialisation (complex: N(0, 1) x init_scale; transe, rotate: uniform in
  // +-initRange()). The table is drawn in blocks of kInitBlock rows, block k
  // from its own generator seeded by (seed, k), so a tensor-parallel rank
  // draws its own rows only and gets the values one process would hold.
  static constexpr int64_t kInitBlock = 4096;
  void initRows(at::Tensor& rows, int64_t first, uint64_t seed, double init_scale) const;
  // Range of the uniform initialisation (transe, rotate).
  double initRange() const;

 private:
  KgScore kind_;
  int64_t dim_;
  double gamma_;
};

}  // namespace autoglm::core::kg
