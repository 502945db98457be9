#pragma once
// The groups one rank trains in: the data-parallel replicas of its shard (dp),
// the ranks sharing its model parts (tp), the stages of its pipeline (pp), and
// all of them (world). A null group is a group of this rank alone.

#include <memory>

#include "comm/communicator.h"
#include "parallel/process_grid.h"

namespace autoglm::trainer {

struct TrainGroups {
  std::shared_ptr<comm::Communicator> world, dp, tp, pp;

  static TrainGroups dataParallel(std::shared_ptr<comm::Communicator> dp) { return {dp, dp, nullptr, nullptr}; }
  static TrainGroups of(const parallel::ParallelGrid& grid) {
    return {grid.worldComm(), grid.dpComm(), grid.tpComm(), grid.ppComm()};
  }

  static int rankIn(const std::shared_ptr<comm::Communicator>& c) { return c ? c->rank() : 0; }
  static int sizeOf(const std::shared_ptr<comm::Communicator>& c) { return c ? c->size() : 1; }
  int worldRank() const { return rankIn(world); }
  int worldSize() const { return sizeOf(world); }
  int dpRank() const { return rankIn(dp); }
  int dpSize() const { return sizeOf(dp); }
  int tpRank() const { return rankIn(tp); }
  int tpSize() const { return sizeOf(tp); }
  int ppRank() const { return rankIn(pp); }
  int ppSize() const { return sizeOf(pp); }
  bool firstStage() const { return ppRank() == 0; }
  bool lastStage() const { return ppRank() == ppSize() - 1; }
  // Model parallel: tensor or pipeline (the layouts beyond plain data parallel).
  bool modelParallel() const { return tpSize() > 1 || ppSize() > 1; }
};

}  // namespace autoglm::trainer
