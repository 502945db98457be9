#include "core/yaml_config.h"

#include <filesystem>

namespace autoglm::core {

namespace check {
Check<std::string> nonEmpty() {
  return [](const std::string& v) -> std::optional<std::string> {
    if (v.empty()) return std::string("must not be empty");
    return std::nullopt;
  };
}
}  // namespace check

YAML::Node loadYamlFile(const std::string& path) {
  if (!std::filesystem::exists(path)) throw ConfigError(path + ": config file not found");
  try {
    YAML::Node root = YAML::LoadFile(path);
    if (root.IsNull()) return YAML::Node(YAML::NodeType::Map);
    if (!root.IsMap()) throw ConfigError(path + ": top level must be a map of sections");
    return root;
  } catch (const YAML::ParserException& e) {
    throw ConfigError(detail::concat(path, ":", e.mark.line + 1, ":", e.mark.column + 1,
                                     ": YAML syntax error: ", e.msg));
  } catch (const YAML::BadFile&) {
    throw ConfigError(path + ": cannot read config file");
  }
}

void applyOverride(YAML::Node& root, const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw ConfigError("--set '" + assignment + "': expected key.path=value");
  }
  std::string path = assignment.substr(0, eq);
  std::string value = assignment.substr(eq + 1);
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    parts.push_back(path.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  // Walk with explicit node copies: yaml-cpp nodes are handles, so assignment through
  // operator[] on a copy writes into the shared tree.
  std::vector<YAML::Node> chain{root};
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (parts[i].empty()) throw ConfigError("--set '" + assignment + "': empty key in path");
    YAML::Node child = chain.back()[parts[i]];
    if (child.IsDefined() && !child.IsNull() && !child.IsMap()) {
      throw ConfigError("--set '" + assignment + "': '" + parts[i] + "' is not a section");
    }
    if (!child.IsDefined() || child.IsNull()) {
      chain.back()[parts[i]] = YAML::Node(YAML::NodeType::Map);
      child = chain.back()[parts[i]];
    }
    chain.push_back(child);
  }
  YAML::Node parsed;
  try {
    parsed = YAML::Load(value);
  } catch (const YAML::Exception& e) {
    throw ConfigError("--set '" + assignment + "': cannot parse value: " + e.msg);
  }
  chain.back()[parts.back()] = parsed;
}

YamlReader::YamlReader(YAML::Node node, std::string file, std::string path)
    : node_(std::move(node)), file_(std::move(file)), path_(std::move(path)) {}

void YamlReader::finish() const {
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    std::string key = it->first.as<std::string>();
    if (!seen_.count(key)) {
      std::string where = file_;
      if (it->first.Mark().line >= 0) where += ":" + std::to_string(it->first.Mark().line + 1);
      throw ConfigError(where + ": unknown key '" + join(key) + "'");
    }
  }
}

void YamlReader::fail(const std::string& key, const std::string& message) const {
  YAML::Node child = node_[key];
  if (child.IsDefined()) fail(child, key, message);
  throw ConfigError(file_ + ": " + join(key) + ": " + message);
}

void YamlReader::fail(const YAML::Node& at, const std::string& key,
                      const std::string& message) const {
  std::string where = file_;
  if (at.Mark().line >= 0) where += ":" + std::to_string(at.Mark().line + 1);
  throw ConfigError(where + ": " + join(key) + "=" + describe(at) + ": " + message);
}

std::string YamlReader::describe(const YAML::Node& n) {
  if (n.IsScalar()) return n.Scalar();
  if (n.IsMap()) return "{...}";
  if (n.IsSequence()) return "[...]";
  return "null";
}

}  // namespace autoglm::core
