#include "trainer/checkpoint/shared_dir.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <random>

#include "comm/chunked_bytes.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/host_runtime.h"

namespace autoglm::trainer {
namespace fs = std::filesystem;

namespace {

std::string randomNonce() {
  std::random_device rd;
  return std::to_string(rd()) + "-" + std::to_string(rd()) + "-" + std::to_string(::getpid());
}

}  // namespace

void checkSharedDir(comm::Communicator& world, const std::string& dir, const std::string& out_dir,
                    const std::string& why) {
  if (world.size() == 1) return;
  const bool root = world.rank() == 0;
  const std::string token_name = ".shared-check";
  std::string nonce, root_error;
  if (root) {
    nonce = randomNonce();
    try {
      core::writeFileDurable((fs::path(dir) / token_name).string(), nonce);
    } catch (const std::system_error& e) {
      root_error = e.what();
    }
  }
  nlohmann::json said = {{"host", core::hostName()}, {"dir", dir}, {"nonce", nonce}, {"error", root_error}};
  said = nlohmann::json::parse(comm::broadcastBytes(world, root ? said.dump() : std::string(), 0));
  const std::string root_host = said["host"], root_dir = said["dir"];
  if (!said["error"].get<std::string>().empty()) {
    throw ConfigError("run.out_dir=" + out_dir + ": world rank 0 (host " + root_host + ") cannot write " + root_dir +
                      "/" + token_name + ": " + said["error"].get<std::string>());
  }
  nonce = said["nonce"];
  const fs::path token = fs::path(dir) / token_name;
  const std::optional<std::string> seen = core::readFileBytes(token.string());
  const std::string mine = seen && *seen == nonce ? std::string()
                           : autoglm::detail::concat("world rank ", world.rank(), " (host ", core::hostName(), ", pid ",
                                                     ::getpid(), ", ", seen ? "another token" : "no token", " at ",
                                                     token.string(), ")");
  const std::vector<std::string> all = comm::gatherBytes(world, mine, 0);
  std::string missing;
  for (const std::string& m : all) {
    if (!m.empty()) missing += (missing.empty() ? "" : "; ") + m;
  }
  if (root) {
    std::error_code ec;
    fs::remove(token, ec);
  }
  const std::string error = comm::broadcastBytes(world, missing, 0);
  if (!error.empty()) {
    throw ConfigError("run.out_dir=" + out_dir + " is not one folder shared by all ranks: with " + why +
                      " every rank writes its own shard of each checkpoint there, but the token world rank 0 (host " +
                      root_host + ") wrote into " + root_dir + " is not seen by " +
                      error + "; put run.out_dir on a file system all hosts share");
  }
}

}  // namespace autoglm::trainer
