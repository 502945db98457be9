// Cost of watching collectives for the supervisor: onIssue + onComplete of the
// SupervisorClient (rolling hash, pending map, outbox), per operation, with its
// heartbeat thread sending to a supervisor in this process (a `sleep` stands
// in for mpirun). Prints ns per operation, median and spread of --rounds.
//   observer_cost [--ops N] [--rounds R]

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <thread>
#include <vector>

#include "core/log.h"
#include "launch/process.h"
#include "launch/supervisor.h"
#include "launch/supervisor_client.h"

int main(int argc, char** argv) {
  namespace launch = autoglm::launch;
  autoglm::core::log::init();
  CLI::App app{"Per-operation cost of the supervisor client"};
  int64_t ops = 1'000'000;
  int rounds = 7;
  app.add_option("--ops", ops);
  app.add_option("--rounds", rounds);
  CLI11_PARSE(app, argc, argv);
  launch::SupervisorOptions o;
  o.floor_s = 600;
  launch::Supervisor sup(1, o, "127.0.0.1");
  launch::ChildProcess child({"sleep", "86400"});
  std::thread watch([&] { sup.supervise(child); });
  std::vector<double> ns;
  {
    launch::SupervisorClient client("127.0.0.1:" + std::to_string(sup.port()), sup.secret(), 0, 1, 0);
    client.onGroup(1, "dp", {0});
    autoglm::comm::WorkInfo w;
    w.op = autoglm::comm::OpType::kAllreduce;
    w.dtype = "Float";
    w.numel = 1 << 20;
    w.bytes = 4 << 20;
    uint64_t seq = 0;
    for (int r = 0; r < rounds; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int64_t i = 0; i < ops; ++i) {
        w.seq = ++seq;
        client.onIssue(1, w);
        client.onComplete(1, w, true);
      }
      ns.push_back(std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() /
                   static_cast<double>(ops));
    }
  }
  child.signalGroup(SIGTERM);
  watch.join();
  std::sort(ns.begin(), ns.end());
  std::printf("{\"ns_per_op\": %.1f, \"min\": %.1f, \"max\": %.1f, \"rounds\": %d, \"ops\": %lld}\n",
              ns[ns.size() / 2], ns.front(), ns.back(), rounds, static_cast<long long>(ops));
  return 0;
}
