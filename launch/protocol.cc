#include "launch/protocol.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "core/hash.h"

namespace autoglm::launch {

std::string hex(uint64_t v) { return core::hex64(v); }

uint64_t fromHex(const std::string& s) { return std::stoull(s, nullptr, 16); }

nlohmann::json toJson(const OpRecord& op) {
  nlohmann::json j{{"g", hex(op.group)}, {"seq", op.seq},     {"op", op.op},         {"dtype", op.dtype},
          {"numel", op.numel},  {"bytes", op.bytes}, {"hash", hex(op.hash)}, {"ms", op.ms}};
  if (op.peer >= 0) j["peer"] = op.peer;
  return j;
}

OpRecord opFromJson(const nlohmann::json& j) {
  OpRecord op;
  op.group = fromHex(j.at("g").get<std::string>());
  op.seq = j.at("seq").get<uint64_t>();
  op.op = j.value("op", "");
  op.dtype = j.value("dtype", "");
  op.numel = j.value("numel", int64_t{0});
  op.bytes = j.value("bytes", int64_t{0});
  op.hash = j.contains("hash") ? fromHex(j.at("hash").get<std::string>()) : 0;
  op.ms = j.value("ms", 0.0);
  op.peer = j.value("peer", -1);
  return op;
}

namespace {

std::string firstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

// Field 22 of /proc/PID/stat. The command name (field 2) may hold spaces:
// count from its closing parenthesis.
std::string startTimeOf(int pid) {
  const std::string stat = firstLine("/proc/" + std::to_string(pid) + "/stat");
  const auto close = stat.rfind(')');
  if (close == std::string::npos || close + 2 > stat.size()) return "";
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  for (int k = 3; k <= 22 && (rest >> field); ++k) {
  }
  return field;
}

ProcessIdentity ownIdentity() {
  ProcessIdentity id;
  id.boot_id = firstLine("/proc/sys/kernel/random/boot_id");
  char buf[64] = {0};
  const ssize_t n = ::readlink("/proc/self/ns/pid", buf, sizeof(buf) - 1);
  if (n > 0) id.pid_ns.assign(buf, static_cast<size_t>(n));
  id.pid = static_cast<int>(::getpid());
  id.start = startTimeOf(id.pid);
  return id;
}

uint64_t nextOpHash(uint64_t previous, const std::string& op, const std::string& dtype, int64_t numel) {
  core::Fnv1a h;
  h.addValue(previous);
  h.add(op);
  h.add(dtype);
  h.addValue(numel);
  return h.value();
}

}  // namespace autoglm::launch
