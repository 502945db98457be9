#include "core/yaml_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace autoglm::core {
namespace {

enum class Mode { kA, kB };
constexpr std::array<EnumName<Mode>, 2> enumNames(Mode) { return {{{Mode::kA, "a"}, {Mode::kB, "b"}}}; }

struct Inner {
  int64_t n = 3;
  double rate = 0.5;
  Mode mode = Mode::kA;
  bool flag = false;
  int64_t bytes = 64;
  template <class V>
  void visit(V& v) {
    v.field("n", n, check::atLeast<int64_t>(1));
    v.field("rate", rate, check::greaterThan(0.0));
    v.field("mode", mode);
    v.field("bytes", bytes, check::all<int64_t>({check::atLeast<int64_t>(8), check::multipleOf<int64_t>(8)}));
    v.field("flag", flag);
  }
};
struct Outer {
  Inner inner;
  template <class V>
  void visit(V& v) { v.section("inner", inner); }
};

std::string errorOf(const std::string& yaml) {
  try {
    YamlReader r(YAML::Load(yaml), "cfg.yaml");
    Outer o;
    o.visit(r);
    r.finish();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(YamlReader, ReadsValuesAndKeepsDefaults) {
  YamlReader r(YAML::Load("inner:\n  n: 7\n  mode: b\n"), "cfg.yaml");
  Outer o;
  o.visit(r);
  r.finish();
  EXPECT_EQ(o.inner.n, 7);
  EXPECT_EQ(o.inner.mode, Mode::kB);
  EXPECT_EQ(o.inner.rate, 0.5);
}

TEST(YamlReader, ErrorsNameFileLineAndKeyPath) {
  EXPECT_EQ(errorOf("inner:\n  n: 2\n  colour: red\n"), "cfg.yaml:3: unknown key 'inner.colour'");
  EXPECT_EQ(errorOf("other: 1\n"), "cfg.yaml:1: unknown key 'other'");
  EXPECT_EQ(errorOf("inner:\n  rate: -0.1\n"), "cfg.yaml:2: inner.rate=-0.1: must be > 0");
  EXPECT_EQ(errorOf("inner:\n  n: 1.5\n"), "cfg.yaml:2: inner.n=1.5: expected an integer");
  EXPECT_EQ(errorOf("inner:\n  n: 0\n"), "cfg.yaml:2: inner.n=0: must be >= 1");
  EXPECT_EQ(errorOf("inner:\n  flag: maybe\n"), "cfg.yaml:2: inner.flag=maybe: expected a boolean");
  EXPECT_EQ(errorOf("inner:\n  mode: c\n"), "cfg.yaml:2: inner.mode=c: must be one of: a, b");
  EXPECT_EQ(errorOf("inner: 5\n"), "cfg.yaml:1: inner=5: expected a map of settings");
  EXPECT_EQ(errorOf("inner:\n  bytes: 12\n"), "cfg.yaml:2: inner.bytes=12: must be a multiple of 8");
  EXPECT_EQ(errorOf("inner:\n  bytes: 0\n"), "cfg.yaml:2: inner.bytes=0: must be >= 8");
}

// Writes `yaml` to a temporary file and returns loadYamlFile's error ("" when
// it loads), with the file's path shown as "cfg.yaml".
std::string loadError(const std::string& yaml) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("autoglm_yaml_config_test_" + std::to_string(::getpid()) + ".yaml");
  std::ofstream(path) << yaml;
  std::string error;
  try {
    loadYamlFile(path.string());
  } catch (const ConfigError& e) {
    error = e.what();
  }
  std::filesystem::remove(path);
  if (error.rfind(path.string(), 0) == 0) error = "cfg.yaml" + error.substr(path.string().size());
  return error;
}

TEST(LoadYamlFile, RejectsADuplicateSection) {
  EXPECT_EQ(loadError("train:\n  lr: 0.1\nmodel:\n  dim: 8\ntrain:\n  lr: 0.2\n"),
            "cfg.yaml:5: duplicate key 'train' (first at line 1)");
  EXPECT_EQ(loadError("train: 1\n'train': 2\n"), "cfg.yaml:2: duplicate key 'train' (first at line 1)");
}

TEST(LoadYamlFile, RejectsADuplicateKeyInsideASection) {
  EXPECT_EQ(loadError("train:\n  lr: 0.1\n  epochs: 3\n  lr: 0.2\n"),
            "cfg.yaml:4: duplicate key 'train.lr' (first at line 2)");
}

TEST(LoadYamlFile, RejectsADuplicateKeyInANestedMap) {
  EXPECT_EQ(loadError("a:\n  b:\n    c: 1\n    d: {e: 2}\n    c: 3\n"),
            "cfg.yaml:5: duplicate key 'a.b.c' (first at line 3)");
  EXPECT_EQ(loadError("a:\n  b:\n    c:\n      d: 1\n  e: 2\n  b: 3\n"),
            "cfg.yaml:6: duplicate key 'a.b' (first at line 2)");
}

TEST(LoadYamlFile, RejectsADuplicateKeyInAFlowMap) {
  EXPECT_EQ(loadError("a: {x: 1, y: 2, x: 3}\n"), "cfg.yaml:1: duplicate key 'a.x' (first at line 1)");
  EXPECT_EQ(loadError("a: {x: 1,\n    x: 2}\n"), "cfg.yaml:2: duplicate key 'a.x' (first at line 1)");
  EXPECT_EQ(loadError("{a: 1, a: 2}\n"), "cfg.yaml:1: duplicate key 'a' (first at line 1)");
}

TEST(LoadYamlFile, RejectsADuplicateKeyInAMapInsideASequence) {
  EXPECT_EQ(loadError("layers:\n  - name: a\n    dim: 1\n    name: b\n"),
            "cfg.yaml:4: duplicate key 'layers[0].name' (first at line 2)");
  EXPECT_EQ(loadError("layers:\n  - {name: a}\n  - [1, {name: b, name: c}]\n"),
            "cfg.yaml:3: duplicate key 'layers[1][1].name' (first at line 3)");
}

TEST(LoadYamlFile, AcceptsTheSameKeyInDifferentMaps) {
  EXPECT_EQ(loadError("a: {x: 1}\nb: {x: 2}\n"), "");
  EXPECT_EQ(loadError("a:\n  x: 1\nb:\n  x: 2\n  a:\n    a: 3\n"), "");
  EXPECT_EQ(loadError("layers:\n  - name: a\n    dim: 1\n  - name: b\n    dim: 2\n  - {name: c, dim: 3}\n"), "");
  EXPECT_EQ(loadError("a: [x, x]\nb: {x: [x], y: x}\n"), "");
}

TEST(LoadYamlFile, ReportsSyntaxErrorsWithLineAndColumn) {
  const std::string error = loadError("a: 1\nb: [1, 2\n");
  EXPECT_EQ(error.rfind("cfg.yaml:", 0), 0u) << error;
  EXPECT_NE(error.find(": YAML syntax error: "), std::string::npos) << error;
}

TEST(LoadYamlFile, LoadsEveryShippedConfig) {
  int loaded = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(AUTOGLM_SOURCE_ROOT) + "/configs")) {
    if (entry.path().extension() != ".yaml") continue;
    EXPECT_NO_THROW(loadYamlFile(entry.path().string())) << entry.path();
    ++loaded;
  }
  EXPECT_GT(loaded, 0);
}

TEST(ApplyOverride, SetsNestedValuesAndRejectsBadPaths) {
  YAML::Node root = YAML::Load("inner:\n  n: 2\n");
  applyOverride(root, "inner.n=9");
  applyOverride(root, "inner.mode=b");
  YamlReader r(root, "cfg.yaml");
  Outer o;
  o.visit(r);
  r.finish();
  EXPECT_EQ(o.inner.n, 9);
  EXPECT_EQ(o.inner.mode, Mode::kB);
  EXPECT_THROW(applyOverride(root, "novalue"), ConfigError);
  EXPECT_THROW(applyOverride(root, "inner.n.deeper=1"), ConfigError);
}

TEST(YamlWriter, RoundTripsThroughReader) {
  Outer o;
  o.inner.n = 11;
  o.inner.flag = true;
  o.inner.mode = Mode::kB;
  const std::string text = toYamlString(o);
  EXPECT_NE(text.find("mode: b"), std::string::npos) << text;
  YamlReader r(YAML::Load(text), "out.yaml");
  Outer back;
  back.visit(r);
  r.finish();
  EXPECT_EQ(back.inner.n, 11);
  EXPECT_TRUE(back.inner.flag);
  EXPECT_EQ(back.inner.mode, Mode::kB);
}

TEST(EnumNames, ParseNameAndChoices) {
  EXPECT_EQ(parseEnum<Mode>("b"), Mode::kB);
  EXPECT_FALSE(parseEnum<Mode>("c").has_value());
  EXPECT_STREQ(enumName(Mode::kA), "a");
  EXPECT_STREQ(enumName(static_cast<Mode>(7)), "?");
  EXPECT_EQ(enumChoices<Mode>(), "a, b");
}

TEST(CheckConfig, AppliesTheFieldChecksToValuesSetInCode) {
  Outer o;
  EXPECT_NO_THROW(checkConfig(o, "top"));
  o.inner.rate = -1.0;
  try {
    checkConfig(o, "top");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "top.inner.rate=-1: must be > 0");
  }
  o.inner.rate = 1.0;
  o.inner.bytes = 20;
  EXPECT_THROW(checkConfig(o, "top"), ConfigError);
}

}  // namespace
}  // namespace autoglm::core
