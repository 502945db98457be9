#pragma once
// What ranks tell the supervisor: one JSON object per line over TCP.
//
//   {"t":"hello","rank":1,"world":4,"secret":"<the job's>","host":"node2","pid":4242,
//    "boot_id":"<of the host>","pid_ns":"pid:[4026531836]","start":"<ticks since boot>","attempt":0}
//   {"t":"hb","rank":1,"step":57,"phase":"reduce","phase_ms":812,
//    "steps":[0.21,0.22],                          step durations since the last heartbeat (s)
//    "groups":[{"g":"<id>","name":"dp","ranks":[0,1]}],   communicators new since the last one
//    "pending":[{"g":"<id>","op":"ALLREDUCE","seq":345,"bytes":4096,"ms":10300}],
//    "last":{...the same fields, the last operation issued...},
//    "ops":[{"g":"<id>","seq":345,"op":"ALLREDUCE","dtype":"Float","numel":1024,"hash":"<h>"}]}
//   {"t":"error","rank":1,"message":"...","config":false}   the rank is about to end the job
//                                                  (config: a configuration error, not restarted)
//   {"t":"bye","rank":1}                           the rank is done
// A heartbeat may also carry "phases_done":[{"phase":"checkpoint","s":4.2}]:
// checkpoint and evaluation phases that ended since the last one.
//
// What the supervisor sends back, on the same connection:
//   {"t":"stop"}    stop as on SIGTERM (save a checkpoint, exit 130)
//   {"t":"kill"}    end this process now (the job is being ended)
//
// "ops" lists every operation issued since the last heartbeat (at most a few
// thousand; "hash" is the rolling hash of the group's operations up to that
// one, so two ranks can be compared at any sequence number both sent). Group
// ids and hashes travel as hex strings (64-bit values).

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace autoglm::launch {

// The environment variable that carries the job's supervisor secret to the ranks.
inline constexpr const char* kSecretVariable = "AUTOGLM_SUPERVISOR_SECRET";

struct OpRecord {
  uint64_t group = 0;
  uint64_t seq = 0;
  std::string op;     // "ALLREDUCE"
  std::string dtype;  // "Float", "" without a tensor
  int64_t numel = 0;
  int64_t bytes = 0;
  uint64_t hash = 0;  // rolling hash of the group's operations 1..seq
  double ms = 0.0;    // pending: how long it has been waiting (at the heartbeat)
  int peer = -1;      // send/recv: the other end (group rank); -1 otherwise
};

nlohmann::json toJson(const OpRecord& op);
OpRecord opFromJson(const nlohmann::json& j);
std::string hex(uint64_t v);
uint64_t fromHex(const std::string& s);

// What tells one process from every other on any host: the host's boot id,
// the PID namespace, the pid in it and the process's start time (clock ticks
// since boot). Two processes are the same only if all four agree.
struct ProcessIdentity {
  std::string boot_id, pid_ns, start;
  int pid = 0;
};
ProcessIdentity ownIdentity();
// The start time of PID as this process sees it ("" when there is no such process).
std::string startTimeOf(int pid);

// Rolling hash of a group's operations: h(seq) = mix(h(seq - 1), op, dtype, numel).
uint64_t nextOpHash(uint64_t previous, const std::string& op, const std::string& dtype, int64_t numel);

}  // namespace autoglm::launch
