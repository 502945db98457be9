#include "launch/launcher.h"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "trainer/checkpoint/checkpoint.h"
#include "trainer/config/experiment_config.h"
#include "trainer/tasks/make_task.h"

namespace autoglm::launch {
namespace {

namespace fs = std::filesystem;
using autoglm::detail::concat;

// The first IPv4 address of this host that is not loopback.
std::string hostAddress() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return "127.0.0.1";
  std::string found = "127.0.0.1";
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET) continue;
    char buf[INET_ADDRSTRLEN] = {0};
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, buf, sizeof(buf));
    if (std::string(buf).rfind("127.", 0) != 0) {
      found = buf;
      break;
    }
  }
  ::freeifaddrs(list);
  return found;
}

std::string besideMe(const std::string& name) {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? name : (self.parent_path() / name).string();
}

// The run's config, checked the way every rank will check it (validateRun:
// the layout against the ranks and every other cross-field rule), before
// mpirun starts anything.
trainer::ExperimentConfig validate(const LaunchOptions& opts, int ranks) {
  trainer::ExperimentConfig cfg = trainer::ExperimentConfig::load(opts.config, opts.overrides);
  const int64_t layout = cfg.parallel.dp * cfg.parallel.tp * cfg.parallel.pp;
  if (layout != 1 && layout != ranks) {
    throw ConfigError(concat("parallel: dp*tp*pp = ", cfg.parallel.dp, "*", cfg.parallel.tp, "*", cfg.parallel.pp,
                             " = ", layout, " does not equal the ", ranks, " ranks to launch (-n / --hostfile)"));
  }
  trainer::validateRun(&cfg, {ranks, opts.resume, false});
  return cfg;
}

std::vector<std::string> commandLine(const LaunchOptions& opts, int ranks, const std::string& address, int attempt,
                                     bool resume) {
  std::vector<std::string> argv{opts.mpirun, "-np", std::to_string(ranks)};
  if (!opts.hostfile.empty()) {
    argv.push_back("--hostfile");
    argv.push_back(opts.hostfile);
  }
  if (::geteuid() == 0) argv.push_back("--allow-run-as-root");
  // The job's secret travels in the environment (not on a command line that
  // ps shows), to the ranks on every host.
  argv.insert(argv.end(), {"-x", kSecretVariable});
  for (const auto& a : opts.mpirun_args) argv.push_back(a);
  if (opts.exec) {
    for (const auto& a : opts.command) argv.push_back(a);
  } else {
    argv.insert(argv.end(), {opts.autoglm.empty() ? besideMe("autoglm") : opts.autoglm, "train", "--config", opts.config});
    for (const auto& o : opts.overrides) argv.insert(argv.end(), {"--set", o});
    if (resume) argv.push_back("--resume");
  }
  argv.insert(argv.end(), {"--supervisor", address, "--attempt", std::to_string(attempt)});
  return argv;
}

std::string joinFailures(const std::vector<std::string>& failures) {
  std::string all;
  for (size_t i = 0; i < failures.size(); ++i) all += (i ? "; " : "") + failures[i];
  return all;
}

}  // namespace

int hostfileSlots(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": hostfile not found");
  int slots = 0, lineno = 0;
  std::string line;
  while (std::getline(in, line)) {
    ++lineno;
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    std::string host, word;
    if (!(words >> host)) continue;
    int n = 1;
    while (words >> word) {
      if (word.rfind("slots=", 0) == 0) {
        try {
          n = std::stoi(word.substr(6));
        } catch (const std::exception&) {
          throw ConfigError(concat(path, ":", lineno, ": bad '", word, "'"));
        }
      }
    }
    slots += n;
  }
  if (slots == 0) throw ConfigError(path + ": no hosts");
  return slots;
}

int runLaunch(const LaunchOptions& opts) {
  const int ranks = opts.ranks > 0 ? opts.ranks : !opts.hostfile.empty() ? hostfileSlots(opts.hostfile) : 1;
  std::string out_dir;
  if (!opts.exec) out_dir = validate(opts, ranks).run.out_dir;
  const std::string bind = opts.supervisor_address.empty() ? (opts.hostfile.empty() ? "127.0.0.1" : "0.0.0.0")
                                                           : opts.supervisor_address;
  const std::string address =
      opts.supervisor_address.empty() ? (opts.hostfile.empty() ? "127.0.0.1" : hostAddress()) : opts.supervisor_address;
  std::vector<std::string> failures;
  PhaseHistory phases;  // carried from one attempt to the next
  for (int attempt = 0;; ++attempt) {
    // A restart continues from the newest checkpoint, if the run wrote one:
    // seen here, or reported done by rank 0 (whose host need not be this one
    // when the hosts share no storage).
    bool resume = opts.resume;
    if (attempt > 0 && !opts.exec) {
      resume = opts.resume || phases.checkpoints > 0 ||
               !trainer::CheckpointManager((fs::path(out_dir) / "checkpoints").string(), 1).existing().empty();
    }
    Supervisor supervisor(ranks, opts.supervisor, bind, phases);
    ::setenv(kSecretVariable, supervisor.secret().c_str(), 1);
    const auto argv = commandLine(opts, ranks, address + ":" + std::to_string(supervisor.port()), attempt, resume);
    std::cerr << "autoglm-launch: attempt " << attempt + 1 << " of " << opts.max_restarts + 1 << ": " << shellJoin(argv)
              << std::endl;
    ChildProcess child(argv);
    const Outcome outcome = supervisor.supervise(child, /*handle_signals=*/true);
    phases = outcome.phases;
    if (outcome.success) {
      std::cerr << "autoglm-launch: done after " << attempt << " restart(s)"
                << (failures.empty() ? std::string() : " (" + joinFailures(failures) + ")") << std::endl;
      return 0;
    }
    if (outcome.interrupted != 0) {
      std::cerr << "autoglm-launch: stopped by " << ::strsignal(outcome.interrupted) << " (mpirun "
                << describeStatus(outcome.wait_status) << "); no restart" << std::endl;
      return 130;
    }
    failures.push_back(concat("attempt ", attempt + 1, ": ", outcome.reason));
    if (outcome.config_error) {
      std::cerr << "autoglm-launch: failed: a configuration error ends the job without restarts (" << outcome.reason
                << ")" << std::endl;
      return 2;
    }
    if (attempt >= opts.max_restarts) {
      std::cerr << "autoglm-launch: failed after " << attempt << " restart(s): " << joinFailures(failures) << std::endl;
      return 1;
    }
    const int backoff = std::min(30, 1 << std::min(attempt, 4));
    std::cerr << "autoglm-launch: restarting in " << backoff << " s (" << opts.max_restarts - attempt
              << " restart(s) left)" << std::endl;
    std::this_thread::sleep_for(std::chrono::seconds(backoff));
  }
}

}  // namespace autoglm::launch
