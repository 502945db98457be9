// Histogram rendering: cumulative buckets, +Inf, sum and count.

#include "launch/serve/histogram.h"

#include <gtest/gtest.h>

namespace autoglm::launch::serve {
namespace {

TEST(Histogram, RendersCumulativeBuckets) {
  Histogram h({0.5, 1, 2.5});
  for (double v : {0.1, 0.5, 0.7, 3.0, 100.0}) h.observe(v);
  EXPECT_EQ(h.render("x"),
            "x_bucket{le=\"0.5\"} 2\n"
            "x_bucket{le=\"1\"} 3\n"
            "x_bucket{le=\"2.5\"} 3\n"
            "x_bucket{le=\"+Inf\"} 5\n"
            "x_sum 104.3\n"
            "x_count 5\n");
  EXPECT_EQ(h.count(), 5u);
}

TEST(Histogram, EmptyRendersZeros) {
  Histogram h({1});
  EXPECT_EQ(h.render("y"), "y_bucket{le=\"1\"} 0\ny_bucket{le=\"+Inf\"} 0\ny_sum 0\ny_count 0\n");
}

TEST(Histogram, MetricValuesAreSpelledAsPrometheusDoes) {
  EXPECT_EQ(formatMetricValue(0.0005), "0.0005");
  EXPECT_EQ(formatMetricValue(5), "5");
  EXPECT_EQ(formatMetricValue(2.5), "2.5");
  EXPECT_EQ(formatMetricValue(1.0 / 0.0), "+Inf");
}

}  // namespace
}  // namespace autoglm::launch::serve
