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
// in one step. What the others hold (their shard's description, their rank
// state) is gathered to world rank 0 alone, in chunks with 64-bit sizes. With
// tp or pp above 1 run.out_dir must be shared by all hosts (shared_dir.h checks
// it at start-up).
//
// Loading (each process on its own, shard_loader.h): every parameter of the
// model present (a stage of any layout, or the whole model on one process) is
// filled from the slices of the files that overlap the slice this process
// holds; the same for the Adam moments. Where the layout (the stage cut, or
// compression, included) differs from
// the one written, the rank states are not used: RNG streams are derived again
// from run.seed, the step and the ranks, and compressor residuals are dropped
// (each rank's residual is the part of its own gradients its compressor has not
// sent yet, over its own buckets; at another layout no rank has those buckets).

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "comm/chunked_bytes.h"
#include "core/model/graph_classifier.h"
#include "parallel/data_parallel/compression/compression_config.h"
#include "parallel/process_grid.h"
#include "trainer/checkpoint/checkpoint.h"
#include "trainer/checkpoint/shard_loader.h"

namespace torch::optim {
class Optimizer;
}

namespace autoglm::trainer {

struct CheckpointLayout {
  int64_t dp = 1, tp = 1, pp = 1;
  parallel::data_parallel::compression::CompressionType compression =
      parallel::data_parallel::compression::CompressionType::kNone;
  // The first part of each pipeline stage ({0} without pp): measured at
  // start-up, so two runs at the same (dp,tp,pp) may cut differently, and a
  // rank state (RNG, residuals) belongs to its stage's parts. Empty: unknown
  // (written before the cut was recorded), equal to no cut.
  std::vector<int64_t> stage_first;
  bool operator==(const CheckpointLayout& o) const {
    return dp == o.dp && tp == o.tp && pp == o.pp && compression == o.compression && !stage_first.empty() &&
           stage_first == o.stage_first;
  }
  bool operator!=(const CheckpointLayout& o) const { return !(*this == o); }
  std::string str() const;  // "(dp,tp,pp)=(1,1,2) stages from parts 0,4 compression topk"
};

// layout.json's layout fields, and back (throws CheckpointError).
nlohmann::json layoutJson(const CheckpointLayout& layout);
CheckpointLayout layoutFromJson(const nlohmann::json& j);

// "shard-tp01-pp00.pt".
std::string shardFileName(int tp_rank, int pp_rank);

struct ShardedSave {
  const parallel::ParallelGrid* grid = nullptr;
  core::model::GraphClassifierImpl* model = nullptr;
  torch::optim::Optimizer* optimizer = nullptr;  // may be null: parameters only
  CheckpointLayout layout;
  std::string rank_state;                         // this rank's saveRankState()
  comm::ChunkOptions chunks;                      // of the gather to world rank 0 (a test seam)
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
