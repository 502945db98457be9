#pragma once
// Reading and writing plain config structs through one field list.
//
// Each config struct lists its fields once:
//
//   struct TrainConfig {
//     int64_t epochs = 20;
//     double lr = 2e-3;
//     template <class V> void visit(V& v) {
//       v.field("epochs", epochs, check::atLeast<int64_t>(1));
//       v.field("lr", lr, check::greaterThan(0.0));
//     }
//   };
//
// YamlReader fills a struct from a YAML map (type and range errors, and unknown
// keys, throw ConfigError naming "file:line: key.path"), YamlWriter emits it,
// and checkConfig() runs the same checks on a struct built in code.
//
// Modes are enums, parsed once here. Each enum lists its YAML names next to its
// definition, through a function found by argument-dependent lookup:
//
//   enum class ReducerMode { kOverlap, kAfterBackward, kOff };
//   constexpr std::array<core::EnumName<ReducerMode>, 3> enumNames(ReducerMode) {
//     return {{{ReducerMode::kOverlap, "overlap"}, {ReducerMode::kAfterBackward, "after_backward"},
//              {ReducerMode::kOff, "off"}}};
//   }
//
// A YAML value that is not one of the names is an error listing them;
// core::enumName(mode) gives the name back for messages and output.

#include <yaml-cpp/yaml.h>

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/error.h"

namespace autoglm::core {

template <typename E>
struct EnumName {
  E value;
  const char* name;
};

// The YAML name of an enum value ("?" for a value without one).
template <typename E, typename = std::enable_if_t<std::is_enum_v<E>>>
const char* enumName(E value) {
  for (const auto& n : enumNames(E{})) {
    if (n.value == value) return n.name;
  }
  return "?";
}

// The value named `name`, or nothing.
template <typename E>
std::optional<E> parseEnum(std::string_view name) {
  for (const auto& n : enumNames(E{})) {
    if (name == n.name) return n.value;
  }
  return std::nullopt;
}

// "overlap, after_backward, off".
template <typename E>
std::string enumChoices() {
  std::string out;
  for (const auto& n : enumNames(E{})) out += (out.empty() ? "" : ", ") + std::string(n.name);
  return out;
}

// A check returns an error text ("must be > 0") or nothing.
template <typename T>
using Check = std::function<std::optional<std::string>(const T&)>;

namespace check {

template <typename T>
Check<T> none() {
  return [](const T&) -> std::optional<std::string> { return std::nullopt; };
}
template <typename T>
Check<T> atLeast(T lo) {
  return [lo](const T& v) -> std::optional<std::string> {
    if (v < lo) return detail::concat("must be >= ", lo);
    return std::nullopt;
  };
}
template <typename T>
Check<T> greaterThan(T lo) {
  return [lo](const T& v) -> std::optional<std::string> {
    if (!(v > lo)) return detail::concat("must be > ", lo);
    return std::nullopt;
  };
}
template <typename T>
Check<T> between(T lo, T hi) {  // inclusive
  return [lo, hi](const T& v) -> std::optional<std::string> {
    if (!(v >= lo && v <= hi)) return detail::concat("must be in [", lo, ", ", hi, "]");
    return std::nullopt;
  };
}
inline Check<double> fraction() { return between(0.0, 1.0); }
inline Check<double> openFraction() {  // [0, 1)
  return [](const double& v) -> std::optional<std::string> {
    if (!(v >= 0.0 && v < 1.0)) return std::string("must be in [0, 1)");
    return std::nullopt;
  };
}
template <typename T>
Check<T> multipleOf(T m) {
  return [m](const T& v) -> std::optional<std::string> {
    if (v % m != 0) return detail::concat("must be a multiple of ", m);
    return std::nullopt;
  };
}
// Every check in turn; the first error wins.
template <typename T>
Check<T> all(std::vector<Check<T>> checks) {
  return [checks](const T& v) -> std::optional<std::string> {
    for (const auto& c : checks) {
      if (auto err = c(v)) return err;
    }
    return std::nullopt;
  };
}
Check<std::string> nonEmpty();

}  // namespace check

// Applies "a.b.c=value" overrides to a YAML tree (value parsed as YAML).
void applyOverride(YAML::Node& root, const std::string& assignment);

// Loads a YAML file, turning parse errors into ConfigError with file:line:column.
// A key that appears twice in one map, at any depth, is a ConfigError naming both
// lines: "cfg.yaml:7: duplicate key 'train.lr' (first at line 3)".
YAML::Node loadYamlFile(const std::string& path);

class YamlReader {
 public:
  YamlReader(YAML::Node node, std::string file, std::string path = "");

  template <typename T>
  void field(const std::string& key, T& value, Check<T> chk = check::none<T>()) {
    seen_.insert(key);
    YAML::Node child = node_[key];
    if (!child.IsDefined() || child.IsNull()) return;  // keep the default
    if constexpr (std::is_enum_v<T>) {
      std::optional<T> parsed = child.IsScalar() ? parseEnum<T>(child.Scalar()) : std::nullopt;
      if (!parsed) fail(child, key, "must be one of: " + enumChoices<T>());
      value = *parsed;
    } else {
      try {
        value = convert<T>(child);
      } catch (const YAML::Exception&) {
        fail(child, key, "expected " + typeName<T>());
      }
    }
    if (auto err = chk(value)) fail(child, key, *err);
  }

  template <typename S>
  void section(const std::string& key, S& sub) {
    seen_.insert(key);
    YAML::Node child = node_[key];
    if (!child.IsDefined() || child.IsNull()) {
      // Still run the reader on an empty map so that nested checks apply to defaults.
      child = YAML::Node(YAML::NodeType::Map);
    } else if (!child.IsMap()) {
      fail(child, key, "expected a map of settings");
    }
    YamlReader sub_reader(child, file_, join(key));
    sub.visit(sub_reader);
    sub_reader.finish();
  }

  // Fails on keys present in the YAML map that no field() or section() read.
  void finish() const;

  // For cross-field checks after visit(): "file: path.key: message".
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;

 private:
  [[noreturn]] void fail(const YAML::Node& at, const std::string& key,
                         const std::string& message) const;
  std::string join(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  static std::string describe(const YAML::Node& n);

  template <typename T>
  static T convert(const YAML::Node& n) {
    if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
      if (!n.IsSequence()) throw YAML::BadConversion(n.Mark());
      std::vector<int64_t> out;
      for (const auto& e : n) out.push_back(convert<int64_t>(e));
      return out;
    } else if constexpr (std::is_same_v<T, bool>) {
      return n.as<bool>();
    } else if constexpr (std::is_integral_v<T>) {
      // yaml-cpp happily converts 1.5 to 1 for some versions; insist on an integer literal.
      if (!n.IsScalar()) throw YAML::BadConversion(n.Mark());
      const std::string& s = n.Scalar();
      size_t pos = 0;
      long long v = 0;
      try {
        v = std::stoll(s, &pos);
      } catch (const std::exception&) {
        throw YAML::BadConversion(n.Mark());
      }
      if (pos != s.size()) throw YAML::BadConversion(n.Mark());
      return static_cast<T>(v);
    } else if constexpr (std::is_same_v<T, std::string>) {
      if (!n.IsScalar()) throw YAML::BadConversion(n.Mark());
      return n.Scalar();
    } else {
      if (!n.IsScalar()) throw YAML::BadConversion(n.Mark());
      return n.as<T>();
    }
  }
  template <typename T>
  static std::string typeName() {
    if constexpr (std::is_same_v<T, bool>) return "a boolean";
    else if constexpr (std::is_same_v<T, std::vector<int64_t>>) return "a list of integers";
    else if constexpr (std::is_integral_v<T>) return "an integer";
    else if constexpr (std::is_floating_point_v<T>) return "a number";
    else if constexpr (std::is_same_v<T, std::string>) return "a string";
    else return "a value";
  }
  YAML::Node node_;
  std::string file_;
  std::string path_;
  std::set<std::string> seen_;
};

class YamlWriter {
 public:
  explicit YamlWriter(YAML::Emitter& out) : out_(out) {}

  template <typename T>
  void field(const std::string& key, T& value, Check<T> = {}) {
    if constexpr (std::is_enum_v<T>) {
      out_ << YAML::Key << key << YAML::Value << enumName(value);
    } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
      out_ << YAML::Key << key << YAML::Value << YAML::Flow << value;
    } else {
      out_ << YAML::Key << key << YAML::Value << value;
    }
  }
  template <typename S>
  void section(const std::string& key, S& sub) {
    out_ << YAML::Key << key << YAML::Value << YAML::BeginMap;
    sub.visit(*this);
    out_ << YAML::EndMap;
  }

 private:
  YAML::Emitter& out_;
};

// Runs every field's check on the values a struct holds (a config built in
// code rather than read from YAML): throws ConfigError "path.key=value: why".
class ConfigChecker {
 public:
  explicit ConfigChecker(std::string path) : path_(std::move(path)) {}

  template <typename T>
  void field(const std::string& key, T& value, Check<T> chk = check::none<T>()) {
    if (auto err = chk(value)) {
      std::ostringstream v;
      if constexpr (std::is_enum_v<T>) {
        v << enumName(value);
      } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
        for (size_t i = 0; i < value.size(); ++i) v << (i ? "," : "[") << value[i];
        v << (value.empty() ? "[]" : "]");
      } else {
        v << value;
      }
      throw ConfigError(join(key) + "=" + v.str() + ": " + *err);
    }
  }
  template <typename S>
  void section(const std::string& key, S& sub) {
    ConfigChecker c(join(key));
    sub.visit(c);
  }

 private:
  std::string join(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  std::string path_;
};

// checkConfig(cfg.compression, "parallel.compression").
template <typename S>
void checkConfig(const S& cfg, const std::string& path) {
  ConfigChecker c(path);
  const_cast<S&>(cfg).visit(c);
}

// Renders any visitable config struct as YAML text.
template <typename S>
std::string toYamlString(const S& cfg) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  YamlWriter w(out);
  const_cast<S&>(cfg).visit(w);
  out << YAML::EndMap;
  return out.c_str();
}

}  // namespace autoglm::core
