#pragma once
// The start-up check that every rank sees the same run.out_dir. With tp or pp
// above 1 each shard's rank writes its own file into the checkpoint's staging
// folder, which world rank 0 then commits: on a folder that is not shared the
// first checkpoint would fail an epoch into the run. Instead world rank 0
// writes a token with a random nonce into the folder, every rank reads it
// back, and the run stops before training with an error naming run.out_dir and
// the ranks (and hosts) that do not see it.

#include <string>

#include "comm/communicator.h"

namespace autoglm::trainer {

// Collective over `world`. `dir` is this rank's checkpoint folder
// (<run.out_dir>/checkpoints), `out_dir` its run.out_dir for the message, `why`
// what needs it shared ("parallel.tp=2 parallel.pp=1"). Throws ConfigError on
// every rank when any rank does not see rank 0's token.
void checkSharedDir(comm::Communicator& world, const std::string& dir, const std::string& out_dir,
                    const std::string& why);

}  // namespace autoglm::trainer
