#include "launch/protocol.h"

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

uint64_t nextOpHash(uint64_t previous, const std::string& op, const std::string& dtype, int64_t numel) {
  core::Fnv1a h;
  h.addValue(previous);
  h.add(op);
  h.add(dtype);
  h.addValue(numel);
  return h.value();
}

}  // namespace autoglm::launch
