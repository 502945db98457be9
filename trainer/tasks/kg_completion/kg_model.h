#pragma once
// The tables of a knowledge-graph embedding on one rank: its slice of the
// entity table (rows [offset, offset + rows) of partitionSizes(entities, tp),
// parallel/tensor_parallel/row_sharded.h) and the whole relation table (2R
// rows with reciprocal relations, R without), replicated. Initialised as one
// process would hold them at run.seed (ScoreFunction::initRows), whatever tp.

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "comm/communicator.h"
#include "core/kg/kg_config.h"
#include "core/kg/kg_score.h"

namespace autoglm::trainer {

// What a rank's share of a layout needs in memory, in bytes.
struct KgMemoryNeed {
  int64_t parameters = 0;  // entity slice and relation table
  int64_t gradients = 0;   // dense: as the parameters (one_vs_all); row-sparse: a batch's rows
  int64_t optimizer = 0;   // Adagrad's sum, Adam's two moments
  int64_t scoring = 0;     // the largest score matrix of a step or an evaluation batch
  int64_t filter = 0;      // the filter of known answers
  int64_t plan = 0;        // an epoch's order and this rank's batches (8 bytes a training triple, three times)
  int64_t checkpoint = 0;  // a checkpoint chunk being written or read (kg_checkpoint.h)
  int64_t total() const { return parameters + gradients + optimizer + scoring + filter + plan + checkpoint; }
};

class KgModel {
 public:
  // entities: the whole table's rows; relations: the table's rows (2R with
  // reciprocal relations). Collective over nothing: each rank draws its rows.
  KgModel(const core::kg::KgConfig& cfg, int64_t entities, int64_t relations, uint64_t seed, int tp_rank, int tp_size);

  const core::kg::ScoreFunction& fn() const { return fn_; }
  at::Tensor& entities() { return entities_; }    // [rows, dim], requires grad
  at::Tensor& relations() { return relations_; }  // [R or 2R, width], requires grad
  const at::Tensor& entities() const { return entities_; }
  const at::Tensor& relations() const { return relations_; }
  int64_t offset() const { return offset_; }
  int64_t rows() const { return entities_.size(0); }
  int64_t totalEntities() const { return total_; }
  int64_t numParameters() const { return total_ * fn_.dim() + relations_.numel(); }

  // Rows of global entity ids [B] on every rank of `tp` (lookupRows).
  at::Tensor lookup(const at::Tensor& ids, comm::Communicator& tp) const;

 private:
  core::kg::ScoreFunction fn_;
  int64_t offset_ = 0, total_ = 0;
  at::Tensor entities_, relations_;
};

// The memory one rank of the layout needs (see KgMemoryNeed).
// triples: all splits' (the filter); train: the training list's length
// (reciprocals included).
KgMemoryNeed kgMemoryNeed(const core::kg::KgConfig& cfg, int64_t entities, int64_t relations, int64_t triples,
                          int64_t train, int tp, int dp, bool adam);

}  // namespace autoglm::trainer
