#pragma once
// A child process in a process group of its own (mpirun and what it starts on
// this host), so that the whole job can be signalled at once.

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace autoglm::launch {

class ChildProcess {
 public:
  // Starts argv[0] (looked up in PATH) with argv. Throws Error when it cannot.
  explicit ChildProcess(const std::vector<std::string>& argv);
  // Kills what is left of the group (SIGKILL) and reaps the child.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // The wait status once the child exited (waitpid WNOHANG), else nothing.
  std::optional<int> poll();
  // Signal to the whole process group.
  void signalGroup(int sig) const;

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// "exit code 1", "killed by signal 9 (Killed)".
std::string describeStatus(int wait_status);
// The command line as a shell would read it (for logs).
std::string shellJoin(const std::vector<std::string>& argv);

}  // namespace autoglm::launch
