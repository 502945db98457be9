#pragma once
// The model and optimizer part of a checkpoint, sharded by layout and loadable
// at any other.
//
// Saving (collective over the world group): one data-parallel replica of each
// (tp, pp) shard writes shard-tpXX-ppYY.pt with the parameters its stage's
// parts hold (its slice of a tensor-parallel one; a replicated one only on tp
// rank 0) and their Adam moments; world rank 0 then writes layout.json, which
// lists for every tensor its global shape and the slice each file holds, every
// rank's rank-NNNNN.pt (RNG, compressor residuals; gathered, so data parallel
// alone needs no shared file system) and the rest, and commits the checkpoint
// in one step. With tp or pp above 1 run.out_dir must be shared by all hosts.
//
// Loading (each process on its own): every parameter of the model present
// (a stage of any layout, or the whole model on one process) is assembled
// from the slices of the files and cut to the slice this process holds; the
// same for the Adam moments. Where the layout (or compression) differs from
// the one written, the rank states are not used: RNG streams are derived again
// from run.seed, the step and the ranks, and compressor residuals are dropped
// (each rank's residual is the part of its own gradients its compressor has not
// sent yet, over its own buckets; at another layout no rank has those buckets).

#include <nlohmann/json.hpp>

#include <string>

#include "core/model/graph_classifier.h"
#include "parallel/data_parallel/compression/compression_config.h"
#include "trainer/checkpoint/checkpoint.h"
#include "parallel/process_grid.h"

namespace torch::optim {
class Optimizer;
}

namespace autoglm::trainer {

struct CheckpointLayout {
  int64_t dp = 1, tp = 1, pp = 1;
  parallel::data_parallel::compression::CompressionType compression =
      parallel::data_parallel::compression::CompressionType::kNone;
  bool operator==(const CheckpointLayout& o) const {
    return dp == o.dp && tp == o.tp && pp == o.pp && compression == o.compression;
  }
  std::string str() const;  // "(dp,tp,pp)=(2,2,1) compression topk"
};

// "shard-tp01-pp00.pt".
std::string shardFileName(int tp_rank, int pp_rank);

struct ShardedSave {
  const parallel::ParallelGrid* grid = nullptr;
  core::model::GraphClassifierImpl* model = nullptr;
  torch::optim::Optimizer* optimizer = nullptr;  // may be null: parameters only
  CheckpointLayout layout;
  std::string rank_state;                         // this rank's saveRankState()
};

// Collective over grid->world(). Returns the checkpoint's directory; throws
// CheckpointError on every rank when any rank's part failed (the staging
// directory is removed, earlier checkpoints stay).
std::string saveShardedCheckpoint(CheckpointManager& manager, const std::string& name, CheckpointPayload payload,
                                  const ShardedSave& save);

CheckpointLayout checkpointLayout(const CheckpointInfo& ckpt);

// Sets every parameter of `model` (and, with an optimizer, its Adam state) from
// the checkpoint; returns the layout it was written at. Throws CheckpointError
// naming the file and tensor when a tensor is missing, its slices do not cover
// it, or shapes differ.
CheckpointLayout loadShardedModel(const CheckpointInfo& ckpt, core::model::GraphClassifierImpl& model,
                                  torch::optim::Optimizer* optimizer);

}  // namespace autoglm::trainer
