#include "core/finite.h"

#include <ATen/Functions.h>
#include <gtest/gtest.h>

#include <limits>

namespace autoglm::core {
namespace {

TEST(AllFinite, FindsEveryKindOfNonFiniteAndKeepsOverflowingSumsFinite) {
  EXPECT_TRUE(allFinite(at::randn({1000})));
  EXPECT_TRUE(allFinite(at::empty({0})));
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity()}) {
    at::Tensor t = at::randn({1000});
    t[517] = bad;
    EXPECT_FALSE(allFinite(t)) << bad;
  }
  at::Tensor both = at::zeros({10});
  both[1] = std::numeric_limits<float>::infinity();
  both[2] = -std::numeric_limits<float>::infinity();  // sum NaN
  EXPECT_FALSE(allFinite(both));
  // Finite values whose float sum overflows: the element-wise check decides.
  EXPECT_TRUE(allFinite(at::full({4}, 3e38f)));
  EXPECT_TRUE(allFinite(at::full({4}, 3e38f).narrow(0, 1, 2)));
}

}  // namespace
}  // namespace autoglm::core
