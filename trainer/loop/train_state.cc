#include "trainer/loop/train_state.h"

#include <type_traits>

#include "core/error.h"
#include "core/yaml_config.h"

namespace autoglm::trainer {
namespace {

struct JsonWriter {
  nlohmann::json& out;
  template <typename T>
  void operator()(const char* key, const T& value, const char* /*old_key*/) {
    if constexpr (std::is_enum_v<T>) {
      out[key] = core::enumName(value);
    } else {
      out[key] = value;
    }
  }
};

struct JsonReader {
  const nlohmann::json& in;
  const std::string& where;
  template <typename T>
  void operator()(const char* key, T& value, const char* old_key) {
    const char* found = in.contains(key) ? key : (old_key != nullptr && in.contains(old_key) ? old_key : nullptr);
    if (found == nullptr) throw CheckpointError(where + ": no '" + key + "'");
    try {
      if constexpr (std::is_enum_v<T>) {
        const std::string name = in.at(found).get<std::string>();
        const std::optional<T> parsed = core::parseEnum<T>(name);
        if (!parsed) throw CheckpointError(where + ": '" + found + "': unknown value '" + name + "'");
        value = *parsed;
      } else {
        value = in.at(found).get<T>();
      }
    } catch (const nlohmann::json::exception& e) {
      throw CheckpointError(where + ": '" + found + "': " + e.what());
    }
  }
};

}  // namespace

nlohmann::json TrainState::toJson() const {
  nlohmann::json j = nlohmann::json::object();
  JsonWriter w{j};
  const_cast<TrainState*>(this)->visit(w);
  return j;
}

TrainState TrainState::fromJson(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw CheckpointError(where + ": not a JSON object");
  TrainState s;
  JsonReader r{j, where};
  s.visit(r);
  return s;
}

}  // namespace autoglm::trainer
