#include "core/semantic/syntax_classes.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace autoglm::core::semantic {
namespace {

TEST(SyntaxLinkClass, SubscriptsDoNotChangeTheClass) {
  EXPECT_EQ(syntaxLinkClass("Ss*s"), syntaxLinkClass("Sp"));
  EXPECT_EQ(syntaxLinkClass("Ss*s"), syntaxLinkClass("S"));
  EXPECT_EQ(syntaxLinkClass("Ds**c"), syntaxLinkClass("Dmu"));
  EXPECT_EQ(syntaxLinkClass("MVp"), syntaxLinkClass("MVa"));
}

TEST(SyntaxLinkClass, DifferentLeadingLettersDiffer) {
  EXPECT_NE(syntaxLinkClass("Os"), syntaxLinkClass("Ss"));
  EXPECT_NE(syntaxLinkClass("MVp"), syntaxLinkClass("Mp"));
  EXPECT_NE(syntaxLinkClass("AN"), syntaxLinkClass("A"));
  EXPECT_NE(syntaxLinkClass("SI"), syntaxLinkClass("Ss"));  // inversion is not S
}

TEST(SyntaxLinkClass, UnknownTypesMapToTheLastClass) {
  EXPECT_EQ(syntaxLinkClass("ZZZ"), kNumSyntaxClasses - 1);
  EXPECT_EQ(syntaxLinkClass("SI"), kNumSyntaxClasses - 1);
  EXPECT_EQ(syntaxLinkClass(""), kNumSyntaxClasses - 1);
  EXPECT_EQ(syntaxLinkClass("s"), kNumSyntaxClasses - 1);
  EXPECT_EQ(syntaxLinkClass("_IBHE"), kNumSyntaxClasses - 1);
  EXPECT_STREQ(syntaxClassName(kNumSyntaxClasses - 1), "other");
}

TEST(SyntaxLinkClass, NamedClassesAreDistinctAndInRange) {
  std::set<int> seen;
  for (int c = 0; c < kNumSyntaxClasses - 1; ++c) {
    const std::string name = syntaxClassName(c);
    EXPECT_EQ(syntaxLinkClass(name), c) << name;
    EXPECT_EQ(syntaxLinkClass(name + "s*x"), c) << name;
    seen.insert(syntaxLinkClass(name));
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kNumSyntaxClasses - 1));
  for (const char* t : {"Ss*s", "Os", "Wd", "RW", "X", "PH", "YS", "TO", "MX", "hXYZ", "\xff"}) {
    const int c = syntaxLinkClass(t);
    EXPECT_GE(c, 0) << t;
    EXPECT_LT(c, kNumSyntaxClasses) << t;
  }
}

}  // namespace
}  // namespace autoglm::core::semantic
