#pragma once
// A temporary folder every rank of a multi-rank test names the same (world
// rank 0's pid), created by rank 0 and removed at the end.

#include <ATen/Functions.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "comm/communicator.h"

namespace autoglm::trainer::testing {

class SharedDir {
 public:
  SharedDir(comm::Communicator& comm, const std::string& tag) : comm_(comm) {
    at::Tensor pid = at::full({1}, static_cast<int64_t>(::getpid()), at::TensorOptions().dtype(at::kLong));
    comm.broadcast(pid, {0})->wait();
    path_ = std::filesystem::temp_directory_path() /
            ("autoglm_" + tag + "_" + std::to_string(pid.item<int64_t>()));
    if (comm.rank() == 0) {
      std::filesystem::remove_all(path_);
      std::filesystem::create_directories(path_);
    }
    comm.barrier({})->wait();
  }
  ~SharedDir() {
    comm_.barrier({})->wait();
    if (comm_.rank() == 0) std::filesystem::remove_all(path_);
  }
  SharedDir(const SharedDir&) = delete;
  SharedDir& operator=(const SharedDir&) = delete;
  std::string operator/(const std::string& s) const { return (path_ / s).string(); }

 private:
  comm::Communicator& comm_;
  std::filesystem::path path_;
};

}  // namespace autoglm::trainer::testing
