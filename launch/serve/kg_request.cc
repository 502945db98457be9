#include "launch/serve/kg_request.h"

#include <nlohmann/json.hpp>

#include <optional>

namespace autoglm::launch::serve {
namespace {

using nlohmann::json;

constexpr const char* kShape = "{\"head\" or \"tail\": \"<entity>\", \"relation\": \"<relation>\", \"k\": 10}";

// Reads the name in field `key` into `out`, or says why it is not one.
std::optional<std::string> readName(const json& body, const char* key, std::string* out) {
  const json& v = body.at(key);
  if (!v.is_string()) return std::string(key) + ": expected a string (a name), got " + v.type_name();
  *out = v.get<std::string>();
  if (out->empty()) return std::string(key) + ": empty name";
  return std::nullopt;
}

}  // namespace

std::variant<KgRequest, std::string> parseKgRequest(const json& body, int64_t max_k) {
  if (!body.is_object()) return std::string("body: expected a JSON object ") + kShape + ", got " + body.type_name();
  for (const auto& [key, value] : body.items()) {
    if (key != "head" && key != "tail" && key != "relation" && key != "k" && key != "filter") {
      return "unknown field \"" + key + "\"; the fields are head or tail, relation, k, filter";
    }
  }
  const bool head = body.contains("head"), tail = body.contains("tail");
  if (head == tail) {
    return std::string(head ? "both \"head\" and \"tail\" given" : "missing \"head\" or \"tail\"") +
           ": give one entity, " + kShape;
  }
  if (!body.contains("relation")) return std::string("missing \"relation\": expected ") + kShape;
  KgRequest r;
  r.predict_head = tail;
  if (auto bad = readName(body, head ? "head" : "tail", &r.anchor)) return *bad;
  if (auto bad = readName(body, "relation", &r.relation)) return *bad;
  if (const auto it = body.find("k"); it != body.end()) {
    if (!it->is_number_integer()) {
      return std::string("k: expected an integer in 1..") + std::to_string(max_k) + ", got " + it->type_name() +
             (it->is_number() ? " " + it->dump() : "");
    }
    const bool negative = it->is_number_integer() && !it->is_number_unsigned() && it->get<int64_t>() < 0;
    if (negative || it->get<uint64_t>() < 1 || it->get<uint64_t>() > static_cast<uint64_t>(max_k)) {
      return "k: " + it->dump() + " is out of range 1.." + std::to_string(max_k);
    }
    r.k = it->get<int64_t>();
  }
  if (const auto it = body.find("filter"); it != body.end()) {
    if (!it->is_boolean()) return std::string("filter: expected true or false, got ") + it->type_name();
    r.filter = it->get<bool>();
  }
  return r;
}

}  // namespace autoglm::launch::serve
