#include "core/yaml_config.h"

#include <gtest/gtest.h>

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
