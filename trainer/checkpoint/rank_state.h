#pragma once
// One rank's own part of a checkpoint: its CPU generator state (dropout masks)
// and its gradient compressor's residuals, as a LibTorch archive. On a
// data-parallel group every rank's state is gathered to rank 0, which writes
// them as rank-NNNNN.pt, so no shared file system is needed.

#include <string>

#include "parallel/data_parallel/compression/compressor.h"

namespace autoglm::trainer {

// "rank-00003.pt".
std::string rankFileName(int rank);

// compressor may be null (one process): only the RNG is saved.
std::string saveRankState(const parallel::data_parallel::compression::Compressor* compressor,
                          parallel::data_parallel::compression::CompressionType type);

// Restores what saveRankState() wrote. Throws CheckpointError naming `what`
// (the file) when it is unreadable or was written with another compressor.
void loadRankState(const std::string& bytes, const std::string& what,
                   parallel::data_parallel::compression::Compressor* compressor,
                   parallel::data_parallel::compression::CompressionType type);

}  // namespace autoglm::trainer
