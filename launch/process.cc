#include "launch/process.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace autoglm::launch {

ChildProcess::ChildProcess(const std::vector<std::string>& argv) {
  if (argv.empty()) throw Error("ChildProcess: empty command");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) throw Error(std::string("fork: ") + std::strerror(errno));
  if (pid_ == 0) {
    ::setpgid(0, 0);
    // Should the launcher itself die (SIGKILL), the job ends with it.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    ::execvp(args[0], args.data());
    const std::string msg = "autoglm-launch: cannot run " + argv[0] + ": " + std::strerror(errno) + "\n";
    (void)!::write(STDERR_FILENO, msg.data(), msg.size());
    ::_exit(127);
  }
  ::setpgid(pid_, pid_);  // also here: no race with the first signal
}

ChildProcess::~ChildProcess() {
  if (pid_ <= 0) return;
  ::kill(-pid_, SIGKILL);
  if (!status_) {
    int st = 0;
    ::waitpid(pid_, &st, 0);
  }
}

std::optional<int> ChildProcess::poll() {
  if (status_) return status_;
  int st = 0;
  const pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) status_ = st;
  return status_;
}

void ChildProcess::signalGroup(int sig) const {
  if (pid_ > 0) ::kill(-pid_, sig);
}

std::string describeStatus(int st) {
  if (WIFEXITED(st)) return "exit code " + std::to_string(WEXITSTATUS(st));
  if (WIFSIGNALED(st)) {
    return "killed by signal " + std::to_string(WTERMSIG(st)) + " (" + ::strsignal(WTERMSIG(st)) + ")";
  }
  return "status " + std::to_string(st);
}

std::string shellJoin(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    if (a.find_first_of(" \t'\"$") == std::string::npos && !a.empty()) {
      out += a;
    } else {
      out += "'";
      for (char c : a) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
      out += "'";
    }
  }
  return out;
}

}  // namespace autoglm::launch
