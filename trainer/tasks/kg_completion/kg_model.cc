#include "trainer/tasks/kg_completion/kg_model.h"

#include <ATen/Functions.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>

#include "parallel/tensor_parallel/row_sharded.h"
#include "trainer/tasks/kg_completion/kg_checkpoint.h"
#include "parallel/tensor_parallel/tp_ops.h"

namespace autoglm::trainer {

namespace tp_ops = parallel::tensor_parallel;

KgModel::KgModel(const core::kg::KgConfig& cfg, int64_t entities, int64_t relations, uint64_t seed, int tp_rank,
                 int tp_size)
    : fn_(cfg.score, cfg.dim, cfg.gamma), total_(entities) {
  offset_ = tp_ops::partitionOffset(entities, tp_size, tp_rank);
  const int64_t rows = tp_ops::partitionSizes(entities, tp_size)[static_cast<size_t>(tp_rank)];
  at::NoGradGuard no_grad;
  entities_ = at::empty({rows, cfg.dim}, at::kFloat);
  relations_ = at::empty({relations, fn_.relationWidth()}, at::kFloat);
  fn_.initRows(entities_, offset_, seed, cfg.init_scale);
  fn_.initRows(relations_, 0, seed ^ 0x72656c6174696f6eull, cfg.init_scale);
  entities_.set_requires_grad(true);
  relations_.set_requires_grad(true);
}

at::Tensor KgModel::lookup(const at::Tensor& ids, comm::Communicator& tp) const {
  return tp_ops::lookupRows(entities_, offset_, ids, tp);
}

KgMemoryNeed kgMemoryNeed(const core::kg::KgConfig& cfg, int64_t entities, int64_t relations, int64_t triples,
                          int64_t train, int tp, int dp, bool adam) {
  const int64_t rows = (entities + tp - 1) / tp;
  const int64_t f = 4;  // float32
  const core::kg::ScoreFunction fn(cfg.score, cfg.dim, cfg.gamma);
  const int64_t rel_rows = cfg.reciprocal ? 2 * relations : relations;
  KgMemoryNeed m;
  m.parameters = (rows * cfg.dim + rel_rows * fn.relationWidth()) * f;
  m.optimizer = m.parameters * (adam ? 2 : 1);
  const int64_t batch = (cfg.batch + dp - 1) / dp;
  const bool one_vs_all = cfg.training == core::kg::KgTraining::kOneVsAll;
  const int64_t looked_up = 2 * batch + (one_vs_all ? 0 : cfg.negatives);
  m.gradients = one_vs_all ? m.parameters : (looked_up * cfg.dim + rel_rows * fn.relationWidth()) * f * 2;
  // A training step's scores (and their gradient) and an evaluation batch's.
  const int64_t train_scores = one_vs_all ? 3 * batch * rows : 3 * batch * cfg.negatives * (fn.bilinear() ? 1 : cfg.dim);
  m.scoring = std::max(train_scores, 2 * std::min(cfg.eval_batch * rows, int64_t{1} << 25)) * f;
  m.filter = 2 * triples * 16;
  m.plan = 3 * train * 8;
  // A chunk of rows and moments, its archive in memory and the copy taken of it.
  m.checkpoint = 3 * (adam ? 3 : 2) * std::min(kKgCheckpointChunkBytes, rows * cfg.dim * f);
  return m;
}

}  // namespace autoglm::trainer
