#pragma once
// Watching a communicator's operations from outside (the supervisor's
// heartbeats, traces): every communicator made with an observer tells it when
// it comes into being and about every operation it issues and completes.
//
// Calls come from the issuing thread and from the communication thread, so an
// observer is thread-safe, and cheap (it runs on the path of every operation).

#include <cstdint>
#include <string>
#include <vector>

#include "comm/work.h"

namespace autoglm::comm {

class CollectiveObserver {
 public:
  virtual ~CollectiveObserver() = default;
  // A new communicator: `group` is the same number on all its members (a hash
  // of its name and members), world_ranks its members' ranks in the world
  // communicator, in the order of their ranks in it.
  virtual void onGroup(uint64_t group, const std::string& name, const std::vector<int>& world_ranks) = 0;
  virtual void onIssue(uint64_t group, const WorkInfo& op) = 0;
  virtual void onComplete(uint64_t group, const WorkInfo& op, bool ok) = 0;
};

}  // namespace autoglm::comm
