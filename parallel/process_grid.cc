#include "parallel/process_grid.h"

#include "comm/self_communicator.h"
#include "core/error.h"

namespace autoglm::parallel {

using autoglm::detail::concat;

void ParallelConfig::validate(int world_size) const {
  if (dp < 1 || tp < 1 || pp < 1) {
    throw ConfigError(concat("parallel: dp=", dp, ", tp=", tp, ", pp=", pp, " must all be >= 1"));
  }
  if (dp * tp * pp != world_size) {
    throw ConfigError(concat("parallel: dp*tp*pp = ", dp, "*", tp, "*", pp, " = ", dp * tp * pp,
                             " does not equal world size ", world_size));
  }
}

GridLayout::GridLayout(const ParallelConfig& cfg, int world_size) {
  cfg.validate(world_size);
  dp_ = static_cast<int>(cfg.dp);
  tp_ = static_cast<int>(cfg.tp);
  pp_ = static_cast<int>(cfg.pp);
}

void GridLayout::checkRank(int rank) const {
  AUTOGLM_CHECK(rank >= 0 && rank < worldSize(), "rank ", rank, " outside grid of size ", worldSize());
}

GridCoord GridLayout::coord(int rank) const {
  checkRank(rank);
  GridCoord c;
  c.tp = rank % tp_;
  c.dp = (rank / tp_) % dp_;
  c.pp = rank / (tp_ * dp_);
  return c;
}

int GridLayout::rankOf(const GridCoord& c) const { return c.tp + tp_ * (c.dp + dp_ * c.pp); }

std::vector<int> GridLayout::tpGroup(int rank) const {
  GridCoord c = coord(rank);
  std::vector<int> out;
  for (c.tp = 0; c.tp < tp_; ++c.tp) out.push_back(rankOf(c));
  return out;
}

std::vector<int> GridLayout::dpGroup(int rank) const {
  GridCoord c = coord(rank);
  std::vector<int> out;
  for (c.dp = 0; c.dp < dp_; ++c.dp) out.push_back(rankOf(c));
  return out;
}

std::vector<int> GridLayout::ppGroup(int rank) const {
  GridCoord c = coord(rank);
  std::vector<int> out;
  for (c.pp = 0; c.pp < pp_; ++c.pp) out.push_back(rankOf(c));
  return out;
}

int GridLayout::prevStage(int rank) const {
  GridCoord c = coord(rank);
  if (c.pp == 0) return -1;
  --c.pp;
  return rankOf(c);
}

int GridLayout::nextStage(int rank) const {
  GridCoord c = coord(rank);
  if (c.pp + 1 >= pp_) return -1;
  ++c.pp;
  return rankOf(c);
}

ParallelGrid::ParallelGrid(std::shared_ptr<comm::Communicator> world, const ParallelConfig& cfg)
    : world_(std::move(world)), layout_(cfg, world_->size()), coord_(layout_.coord(world_->rank())) {
  const int TP = layout_.tp(), DP = layout_.dp();
  // Same color = same group; key = coordinate along the axis, so the axis rank equals it.
  tp_ = world_->split(coord_.dp + DP * coord_.pp, coord_.tp, "tp");
  dp_ = world_->split(coord_.tp + TP * coord_.pp, coord_.dp, "dp");
  pp_ = world_->split(coord_.tp + TP * coord_.dp, coord_.pp, "pp");
}

namespace {

ParallelConfig dataParallelConfig(int size) {
  ParallelConfig c;
  c.dp = size;
  return c;
}

}  // namespace

ParallelGrid::ParallelGrid(std::shared_ptr<comm::Communicator> world, std::shared_ptr<comm::Communicator> dp)
    : world_(std::move(world)),
      layout_(dataParallelConfig(world_->size()), world_->size()),
      coord_(layout_.coord(world_->rank())),
      tp_(std::make_shared<comm::SelfCommunicator>("tp")),
      dp_(std::move(dp)),
      pp_(std::make_shared<comm::SelfCommunicator>("pp")) {}

ParallelGrid ParallelGrid::alone() {
  return ParallelGrid(std::make_shared<comm::SelfCommunicator>("world"), std::make_shared<comm::SelfCommunicator>("dp"));
}

ParallelGrid ParallelGrid::dataParallel(std::shared_ptr<comm::Communicator> world) {
  if (!world) return alone();
  auto dp = world;
  return ParallelGrid(std::move(world), std::move(dp));
}

}  // namespace autoglm::parallel
