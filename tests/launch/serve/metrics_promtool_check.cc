// GET /metrics of a server that has answered a few requests (200, 400, 404,
// 503 over serve.max_connections, cache hits and misses, batches), checked by
// Prometheus's own linter: `promtool check metrics` (Debian's prometheus
// package). Exit code: promtool's (0 when it accepts the text), 77 when
// promtool is not installed (CTest's SKIP_RETURN_CODE), 1 when the server
// could not be asked.

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "tests/launch/serve/test_client.h"

namespace serve = autoglm::launch::serve;
using serve::testing::TestClient;

int main() {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    std::cout << "promtool not found (apt-get install prometheus): skipped\n";
    return 77;
  }
  std::string text;
  try {
    serve::testing::FakeEngine engine;
    auto config = serve::testing::testConfig();
    config.cache_entries = 16;
    config.max_connections = 2;
    serve::testing::RunningServer s(config, engine);
    TestClient client(s.port);
    client.classify({{"texts", {"one", "two words"}}});
    client.classify({{"texts", {"one"}}});
    client.classify({{"texts", {1}}});
    client.request(boost::beast::http::verb::get, "/nowhere");
    TestClient second(s.port);
    second.request(boost::beast::http::verb::get, "/healthz");
    TestClient(s.port).classify({{"texts", {"over the limit"}}});  // 503
    text = TestClient(s.port).request(boost::beast::http::verb::get, "/metrics", "", "").body();
  } catch (const std::exception& e) {
    std::cerr << "could not get /metrics: " << e.what() << "\n";
    return 1;
  }
  std::cout << text;
  FILE* promtool = popen("promtool check metrics", "w");
  if (promtool == nullptr) return 1;
  std::fwrite(text.data(), 1, text.size(), promtool);
  const int status = pclose(promtool);
  const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  std::cout << "promtool check metrics: exit code " << rc << "\n";
  return rc;
}
