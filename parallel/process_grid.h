#pragma once
// The dp x tp x pp process grid (Megatron-LM order: tp fastest, then dp, then pp).
//
//   world rank = tp + TP * (dp + DP * pp)
//
// ParallelGrid is a value built once from the world communicator: it checks
// dp*tp*pp == world size and owns one communicator per axis. An axis of degree
// 1 is a group of one (never null), so code asks sizes, not whether a group
// exists; alone() is the grid of a single process started without MPI.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "parallel/parallel_config.h"

namespace autoglm::parallel {

struct GridCoord {
  int dp = 0;
  int tp = 0;
  int pp = 0;
  bool operator==(const GridCoord& o) const { return dp == o.dp && tp == o.tp && pp == o.pp; }
};

// Pure rank arithmetic of the grid; no communication.
class GridLayout {
 public:
  GridLayout(const ParallelConfig& cfg, int world_size);

  int dp() const { return dp_; }
  int tp() const { return tp_; }
  int pp() const { return pp_; }
  int worldSize() const { return dp_ * tp_ * pp_; }

  GridCoord coord(int rank) const;
  int rankOf(const GridCoord& c) const;
  // World ranks of the group `rank` belongs to along one axis, ordered by the
  // coordinate on that axis (so index == rank within the axis communicator).
  std::vector<int> tpGroup(int rank) const;
  std::vector<int> dpGroup(int rank) const;
  std::vector<int> ppGroup(int rank) const;
  // World rank of the previous / next pipeline stage with the same (dp, tp), or -1.
  int prevStage(int rank) const;
  int nextStage(int rank) const;

 private:
  void checkRank(int rank) const;
  int dp_, tp_, pp_;
};

class ParallelGrid {
 public:
  // Collective over `world`: splits it into the tp, dp and pp communicators.
  ParallelGrid(std::shared_ptr<comm::Communicator> world, const ParallelConfig& cfg);
  // This process alone (every axis a comm::SelfCommunicator): needs no MPI.
  static ParallelGrid alone();
  // Data parallel over all of `world` (its dp group is `world` itself; tp and
  // pp are groups of one); null: alone().
  static ParallelGrid dataParallel(std::shared_ptr<comm::Communicator> world);

  // Tensor or pipeline parallel (the layouts beyond plain data parallel).
  bool modelParallel() const { return layout_.tp() > 1 || layout_.pp() > 1; }

  const GridLayout& layout() const { return layout_; }
  const GridCoord& coord() const { return coord_; }
  int worldRank() const { return world_->rank(); }

  comm::Communicator& world() const { return *world_; }
  comm::Communicator& tp() const { return *tp_; }
  comm::Communicator& dp() const { return *dp_; }
  comm::Communicator& pp() const { return *pp_; }
  std::shared_ptr<comm::Communicator> dpComm() const { return dp_; }
  std::shared_ptr<comm::Communicator> tpComm() const { return tp_; }
  std::shared_ptr<comm::Communicator> ppComm() const { return pp_; }
  std::shared_ptr<comm::Communicator> worldComm() const { return world_; }

  // Pipeline neighbours: ranks in pp() (equal to the stage index), or -1.
  int prevStage() const { return coord_.pp > 0 ? coord_.pp - 1 : -1; }
  int nextStage() const { return coord_.pp + 1 < layout_.pp() ? coord_.pp + 1 : -1; }
  bool isFirstStage() const { return coord_.pp == 0; }
  bool isLastStage() const { return coord_.pp == layout_.pp() - 1; }

 private:
  ParallelGrid(std::shared_ptr<comm::Communicator> world, std::shared_ptr<comm::Communicator> dp);

  std::shared_ptr<comm::Communicator> world_;
  GridLayout layout_;
  GridCoord coord_;
  std::shared_ptr<comm::Communicator> tp_, dp_, pp_;
};

}  // namespace autoglm::parallel
