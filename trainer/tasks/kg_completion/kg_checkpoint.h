#pragma once
// The tables of a knowledge-graph checkpoint, sharded as trained and loadable
// at any tensor-parallel size (tp=4 to one process for eval and serve):
//   entities-tpXX-cYYYYY.pt  rows of tp rank XX's slice of the entity table
//                     and their optimizer state, in chunks of about
//                     kKgCheckpointChunkBytes per tensor (one data-parallel
//                     replica of each tp rank writes them)
//   relations.pt      the relation table and its optimizer state (world rank 0)
//   kg_layout.json    the table shapes, the optimizer, and every shard's file,
//                     offset and rows
// plus state.json and config.yaml (checkpoint.h). A loading rank reads only
// the chunk files that overlap the rows it holds, one at a time, straight
// into its table and optimizer state: saving and loading hold one chunk
// beyond the tables, never a second copy of a shard. With tp=1 only world rank 0
// writes and reads (run.out_dir need not be shared); with tp > 1 every rank
// of data-parallel rank 0 does, in a shared run.out_dir (checked at start-up).

#include <string>

#include "parallel/process_grid.h"
#include "trainer/checkpoint/checkpoint.h"
#include "trainer/tasks/kg_completion/kg_model.h"

namespace torch::optim {
class Optimizer;
}

namespace autoglm::trainer {

inline constexpr int64_t kKgCheckpointChunkBytes = int64_t{32} << 20;

// Collective over grid.world(). Throws CheckpointError on every rank when any
// rank's part failed (the staging folder is removed; older checkpoints stay).
// chunk_bytes: the chunk size per tensor (a test seam).
void saveKgCheckpoint(CheckpointManager& manager, const std::string& name, CheckpointPayload payload,
                      const parallel::ParallelGrid& grid, KgModel& model, torch::optim::Optimizer* opt,
                      int64_t chunk_bytes = kKgCheckpointChunkBytes);

// This process's rows of the tables (and, with `opt`, their optimizer state),
// from the shard files that overlap them. Not collective. Throws
// CheckpointError naming the file when shapes differ or rows are not covered.
void readKgTables(const CheckpointInfo& ckpt, KgModel& model, torch::optim::Optimizer* opt);

// readKgTables on data-parallel rank 0 of each tp rank, sent to the other
// data-parallel ranks. Collective over grid.world().
void loadKgCheckpoint(const CheckpointInfo& ckpt, const parallel::ParallelGrid& grid, KgModel& model,
                      torch::optim::Optimizer* opt);

}  // namespace autoglm::trainer
