#pragma once
// The body of POST /v1/kg/complete, validated without the model (pure, as
// request_handler.h):
//
//   {"head": "<entity>", "relation": "<relation>", "k": 10, "filter": true}   top-k tails
//   {"tail": "<entity>", "relation": "<relation>", "k": 10, "filter": true}   top-k heads
//
// "k" is optional (10) and must be an integer in 1..max_k (kMaxK when served);
// "filter" is optional (true). Exactly one of "head" and "tail". Errors are one
// line naming the field: not an object, a missing field, both or neither of
// head and tail, a field of the wrong type, an empty name, k out of range,
// a field the endpoint does not know. Names are resolved later (kg_service.h).

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <variant>

namespace autoglm::launch::serve {

inline constexpr int64_t kDefaultK = 10;
// The most answers one query may ask for: a response of 1000 entities is
// about 60 KB of JSON; ranking deeper is `autoglm eval`'s job.
inline constexpr int64_t kMaxK = 1000;

struct KgRequest {
  std::string anchor;          // the entity given
  bool predict_head = false;   // "tail" given: heads asked for
  std::string relation;
  int64_t k = kDefaultK;
  bool filter = true;
};

// The request, or the one-line message of a 400.
std::variant<KgRequest, std::string> parseKgRequest(const nlohmann::json& body, int64_t max_k);

}  // namespace autoglm::launch::serve
