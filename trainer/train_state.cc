#include "trainer/train_state.h"

#include "core/error.h"

namespace autoglm::trainer {
namespace {

struct JsonWriter {
  nlohmann::json& out;
  template <typename T>
  void operator()(const char* key, const T& value) {
    out[key] = value;
  }
};

struct JsonReader {
  const nlohmann::json& in;
  const std::string& where;
  template <typename T>
  void operator()(const char* key, T& value) {
    if (!in.contains(key)) throw CheckpointError(where + ": no '" + key + "'");
    try {
      value = in.at(key).get<T>();
    } catch (const nlohmann::json::exception& e) {
      throw CheckpointError(where + ": '" + key + "': " + e.what());
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
