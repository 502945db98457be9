#include "core/yaml_config.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace autoglm::core {

namespace check {
Check<std::string> nonEmpty() {
  return [](const std::string& v) -> std::optional<std::string> {
    if (v.empty()) return std::string("must not be empty");
    return std::nullopt;
  };
}
}  // namespace check

namespace {

// Walks the parser's events for one document and throws ConfigError at the
// second occurrence of a key in the same map, at any depth (YAML::LoadFile
// silently keeps one of them). Keys that are not plain scalars (null, alias,
// map or sequence keys) are not compared.
class DuplicateKeyCheck final : public YAML::EventHandler {
 public:
  explicit DuplicateKeyCheck(std::string file) : file_(std::move(file)) {}

  void OnDocumentStart(const YAML::Mark&) override { open_.clear(); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { leaf(mark, nullptr); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { leaf(mark, nullptr); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string& value) override {
    leaf(mark, &value);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    open(mark, false);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    open(mark, true);
  }
  void OnMapEnd() override { close(); }

 private:
  // An open map or sequence and where its parser is inside it.
  struct Open {
    bool is_map = false;
    std::string path;                 // "train", "layers[2]"; empty for the document
    std::map<std::string, int> keys;  // map: key -> 1-based line of its first occurrence
    bool at_key = true;               // map: the next node is a key (else a value)
    std::string key;                  // map: path of the current key's value
    int64_t index = 0;                // sequence: index of the next element
  };

  // Called as each node starts; `key` is its text when it is a plain scalar.
  // Returns the node's path (for a map or sequence it opens).
  std::string start(const YAML::Mark& mark, const std::string* key) {
    if (open_.empty()) return "";
    Open& o = open_.back();
    if (!o.is_map) return detail::concat(o.path, "[", o.index, "]");
    if (!o.at_key) return o.key;
    o.key = join(o.path, key ? *key : "?");
    if (key) {
      const int line = mark.line + 1;
      const auto [first, inserted] = o.keys.emplace(*key, line);
      if (!inserted) {
        throw ConfigError(detail::concat(file_, ":", line, ": duplicate key '", o.key, "' (first at line ",
                                         first->second, ")"));
      }
    }
    return o.key;
  }
  // Called as each node ends: the next node of its parent is the next key, value or element.
  void end() {
    if (open_.empty()) return;
    Open& o = open_.back();
    if (o.is_map) {
      o.at_key = !o.at_key;
    } else {
      ++o.index;
    }
  }
  void leaf(const YAML::Mark& mark, const std::string* value) {
    start(mark, value);
    end();
  }
  void open(const YAML::Mark& mark, bool is_map) {
    Open o;
    o.path = start(mark, nullptr);
    o.is_map = is_map;
    open_.push_back(std::move(o));
  }
  void close() {
    open_.pop_back();
    end();
  }
  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  std::string file_;
  std::vector<Open> open_;
};

// Throws ConfigError "file:line: duplicate key 'a.b' (first at line n)" for the
// first document of `path`.
void rejectDuplicateKeys(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw YAML::BadFile(path);
  YAML::Parser parser(in);
  DuplicateKeyCheck check(path);
  parser.HandleNextDocument(check);
}

}  // namespace

YAML::Node loadYamlFile(const std::string& path) {
  if (!std::filesystem::exists(path)) throw ConfigError(path + ": config file not found");
  try {
    YAML::Node root = YAML::LoadFile(path);
    if (root.IsNull()) return YAML::Node(YAML::NodeType::Map);
    if (!root.IsMap()) throw ConfigError(path + ": top level must be a map of sections");
    rejectDuplicateKeys(path);
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
