// The metrics text: every family with HELP and TYPE, counters by status,
// the batch-size histogram and the gauges as last set.

#include "launch/serve/metrics.h"

#include <gtest/gtest.h>

#include <string>

namespace autoglm::launch::serve {
namespace {

bool has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(Metrics, RendersEveryFamily) {
  Metrics m;
  m.countRequest(200, 0.001);
  m.countRequest(200, 0.002);
  m.countRequest(400, 0.0001);
  m.observeBatch(3);
  m.observeBatch(8);
  m.setQueueDepth(5);
  m.countCache(2, 7);
  m.countTexts(9);
  m.countSessionError();
  const std::string text = m.render();
  EXPECT_TRUE(has(text, "# TYPE autoglm_requests_total counter"));
  EXPECT_TRUE(has(text, "autoglm_requests_total{status=\"200\"} 2"));
  EXPECT_TRUE(has(text, "autoglm_requests_total{status=\"400\"} 1"));
  EXPECT_TRUE(has(text, "# TYPE autoglm_request_duration_seconds histogram"));
  EXPECT_TRUE(has(text, "autoglm_request_duration_seconds_bucket{le=\"0.0005\"} 1"));
  EXPECT_TRUE(has(text, "autoglm_request_duration_seconds_bucket{le=\"0.001\"} 2"));
  EXPECT_TRUE(has(text, "autoglm_request_duration_seconds_bucket{le=\"5\"} 3"));
  EXPECT_TRUE(has(text, "autoglm_request_duration_seconds_count 3"));
  EXPECT_TRUE(has(text, "autoglm_batch_size_bucket{le=\"2\"} 0"));
  EXPECT_TRUE(has(text, "autoglm_batch_size_bucket{le=\"4\"} 1"));
  EXPECT_TRUE(has(text, "autoglm_batch_size_bucket{le=\"8\"} 2"));
  EXPECT_TRUE(has(text, "autoglm_batch_size_sum 11"));
  EXPECT_TRUE(has(text, "# TYPE autoglm_queue_depth gauge"));
  EXPECT_TRUE(has(text, "autoglm_queue_depth 5"));
  EXPECT_TRUE(has(text, "autoglm_cache_hits_total 2"));
  EXPECT_TRUE(has(text, "autoglm_cache_misses_total 7"));
  EXPECT_TRUE(has(text, "autoglm_texts_total 9"));
  EXPECT_TRUE(has(text, "autoglm_session_errors_total 1"));
  EXPECT_EQ(m.requests(200), 2u);
  EXPECT_EQ(m.requests(503), 0u);
}

TEST(Metrics, EveryLineIsACommentOrANameAndAValue) {
  Metrics m;
  m.countRequest(503, 7.0);
  const std::string text = m.render();
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    ASSERT_NE(end, std::string::npos) << "the text ends without a newline";
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) continue;
    const size_t space = line.rfind(' ');
    ASSERT_NE(space, std::string::npos) << line;
    EXPECT_EQ(line.rfind("autoglm_", 0), 0u) << line;
    const std::string value = line.substr(space + 1);
    EXPECT_NO_THROW((void)std::stod(value)) << line;
  }
}

}  // namespace
}  // namespace autoglm::launch::serve
