// faults: the server under more connections than it serves, idle and slow
// clients, and slow graph preparation.
//   - connections over serve.max_connections get 503 (or are closed) while
//     /healthz and /metrics still answer, the connections within the limit
//     keep working, and the log gets no line per refused connection (it got
//     one per failed accept every 50 ms, and /healthz timed out);
//   - out of file descriptors, accept backs off and logs one line, not one
//     every 50 ms, and the server accepts again once descriptors are free;
//   - idle connections are closed after serve.idle_timeout_s;
//   - a text whose preparation never ends does not hold up /healthz and
//     /metrics on a server with one I/O thread (preparation ran on it);
//   - the limits and timeouts are checked, naming the YAML key.

#include "launch/serve/server.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <memory>
#include <sstream>

#include "core/yaml_config.h"
#include "tests/launch/serve/test_client.h"

namespace autoglm::launch::serve {
namespace {

using namespace testing;  // NOLINT: the serve test helpers
using namespace std::chrono_literals;
using nlohmann::json;

// The lines logged while it lives.
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)) {
    spdlog::default_logger()->sinks().push_back(sink_);
  }
  ~LogCapture() {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }
  // Lines holding `needle`.
  size_t lines(const std::string& needle) {
    spdlog::default_logger()->flush();
    std::istringstream in(out_.str());
    size_t n = 0;
    for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
    return n;
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

// GET `target` on a new connection; prints how long the answer took.
Response timedGet(uint16_t port, const std::string& target) {
  const auto start = std::chrono::steady_clock::now();
  TestClient client(port);
  Response res = client.request(http::verb::get, target, "", "");
  const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
  std::cout << "GET " << target << ": " << res.result_int() << " in " << took.count() << " ms (connect included)\n";
  return res;
}

TEST(ServerFaults, ConnectionsOverTheLimitGet503WhileHealthzAnswers) {
  FakeEngine engine;
  LogCapture log;
  auto config = testConfig();
  config.threads = 1;
  config.max_connections = 4;
  RunningServer s(config, engine);
  const ConnectionLimits limits = s.server.connectionLimits();
  ASSERT_EQ(limits.served, 4u);
  ASSERT_EQ(limits.overflow, 8u);

  std::vector<std::unique_ptr<TestClient>> idle;
  for (int i = 0; i < 4; ++i) idle.push_back(std::make_unique<TestClient>(s.port));
  ASSERT_TRUE(eventually([&] { return s.server.metrics().connections() == 4; }));
  // Fifty more that send nothing: accepted over the limit, or closed at once.
  const int extra = 50;
  for (int i = 0; i < extra; ++i) idle.push_back(std::make_unique<TestClient>(s.port));
  ASSERT_TRUE(eventually([&] { return s.server.metrics().overLimit() == extra; }));
  EXPECT_LE(s.server.metrics().connections(), static_cast<int64_t>(4 + 2 * limits.overflow));

  const Response busy = TestClient(s.port).classify({{"texts", {"over the limit"}}});
  EXPECT_EQ(busy.result_int(), 503);
  EXPECT_NE(jsonOf(busy)["error"].get<std::string>().find("serve.max_connections=4"), std::string::npos) << busy.body();
  EXPECT_FALSE(busy.keep_alive());
  for (int i = 0; i < 3; ++i) {
    const Response health = timedGet(s.port, "/healthz");
    EXPECT_EQ(health.result_int(), 200);
    EXPECT_EQ(jsonOf(health), json({{"status", "ok"}}));
  }
  const Response metrics = timedGet(s.port, "/metrics");
  EXPECT_EQ(metrics.result_int(), 200);
  EXPECT_NE(metrics.body().find("autoglm_connections_over_limit_total"), std::string::npos);

  // The connections within the limit are still served.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(idle[static_cast<size_t>(i)]->classify({{"texts", {"within"}}}).result_int(), 200);
  // One line for the first connection over the limit; the next is due 10 s later.
  EXPECT_EQ(log.lines("over serve.max_connections"), 1u);
  EXPECT_EQ(log.lines("accept failed"), 0u);
}

// Lowers this process's soft open-file limit for its lifetime.
class FileLimit {
 public:
  explicit FileLimit(rlim_t soft) {
    getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit lowered = saved_;
    lowered.rlim_cur = soft;
    setrlimit(RLIMIT_NOFILE, &lowered);
  }
  ~FileLimit() { setrlimit(RLIMIT_NOFILE, &saved_); }
  FileLimit(const FileLimit&) = delete;
  FileLimit& operator=(const FileLimit&) = delete;

 private:
  rlimit saved_{};
};

rlim_t highestOpenFd() {
  rlim_t highest = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    highest = std::max<rlim_t>(highest, std::stoul(e.path().filename().string()));
  }
  return highest;
}

TEST(ServerFaults, OutOfDescriptorsAcceptBacksOffAndLogsOnce) {
  FakeEngine engine;
  LogCapture log;
  auto config = testConfig();
  config.threads = 1;
  RunningServer s(config, engine);
  std::vector<int> held;
  int client = -1;
  {
    FileLimit limit(highestOpenFd() + 8);
    for (int fd; (fd = ::open("/dev/null", O_RDONLY)) >= 0;) held.push_back(fd);  // every descriptor taken
    ASSERT_FALSE(held.empty());
    ::close(held.back());  // one left, for the client: the server cannot accept it
    held.pop_back();
    client = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(client, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(s.port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);  // in the listen backlog
    // Retried after 10, 20, 40, 80 ms: four failures are 150 ms of backing off.
    ASSERT_TRUE(eventually([&] { return s.server.metrics().acceptErrors() >= 5; }));
    for (const int fd : held) ::close(fd);
  }
  ASSERT_TRUE(eventually([&] { return s.server.metrics().connections() == 1; })) << "the waiting client was never accepted";
  ::close(client);
  EXPECT_EQ(TestClient(s.port).request(http::verb::get, "/healthz").result_int(), 200);
  EXPECT_EQ(log.lines("accept failed"), 1u) << "one line for the first failure; the next is due 10 s later";
  EXPECT_EQ(log.lines("Too many open files"), 1u);
}

TEST(ServerFaults, IdleConnectionsAreClosedAfterTheIdleTimeout) {
  FakeEngine engine;
  auto config = testConfig();
  config.idle_timeout_s = 0.2;
  RunningServer s(config, engine);
  TestClient never_asks(s.port);
  const RawResult first = never_asks.readAll();  // the client's own limit is far longer
  EXPECT_TRUE(first.data.empty());
  EXPECT_EQ(first.end, asio::error::eof) << first.end.message();
  TestClient asks_once(s.port);
  EXPECT_EQ(asks_once.request(http::verb::get, "/healthz").result_int(), 200);
  const RawResult after = asks_once.readAll();  // then idle on a keep-alive connection
  EXPECT_TRUE(after.data.empty());
  EXPECT_EQ(after.end, asio::error::eof) << after.end.message();
  ASSERT_TRUE(eventually([&] { return s.server.metrics().connections() == 0; }));
}

TEST(ServerFaults, SlowPreparationDoesNotHoldUpHealthzAndMetrics) {
  FakeEngine engine;
  engine.holdPrepare();
  auto config = testConfig();
  config.threads = 1;  // one I/O thread: preparing on it would block every connection
  config.prepare_threads = 2;
  RunningServer s(config, engine);
  std::vector<std::future<Response>> slow;
  for (int i = 0; i < 4; ++i) {
    slow.push_back(std::async(std::launch::async, [&] { return TestClient(s.port).classify({{"texts", {"slow"}}}); }));
  }
  ASSERT_TRUE(engine.waitForPrepares(2));  // both prepare threads are stuck in a text
  EXPECT_EQ(timedGet(s.port, "/healthz").result_int(), 200);
  EXPECT_EQ(timedGet(s.port, "/metrics").result_int(), 200);
  EXPECT_EQ(TestClient(s.port).classify({{"texts", {1}}}).result_int(), 400);  // read and checked on the I/O thread
  EXPECT_EQ(engine.classifyCalls(), 0u);
  engine.release();
  for (auto& f : slow) EXPECT_EQ(f.get().result_int(), 200);
}

// The serve: section as YAML, read into a ServeConfig; the error, if any.
std::string readError(const std::string& yaml) {
  trainer::ServeConfig c;
  try {
    core::YamlReader reader(YAML::Load(yaml), "test.yaml");
    reader.section("serve", c);
    reader.finish();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(ServerFaults, TimeoutsAndLimitsAreCheckedNamingTheKey) {
  EXPECT_EQ(readError("serve: {idle_timeout_s: 5, read_timeout_s: 10, write_timeout_s: 10, max_connections: 100, "
                      "prepare_threads: 2}"),
            "");
  for (const std::string key : {"idle_timeout_s", "read_timeout_s", "write_timeout_s"}) {
    EXPECT_NE(readError("serve: {" + key + ": 0}").find("serve." + key), std::string::npos) << key;
  }
  EXPECT_NE(readError("serve: {max_connections: -1}").find("serve.max_connections"), std::string::npos);
  EXPECT_NE(readError("serve: {prepare_threads: 0}").find("serve.prepare_threads"), std::string::npos);

  // The default follows the open-file limit; a value that does not fit it is refused with the largest that does.
  EXPECT_EQ(connectionLimits(0, 1024).served, (1024u - 64) * 3 / 4);
  EXPECT_EQ(connectionLimits(0, 1u << 20).served, 16384u);
  EXPECT_EQ(connectionLimits(500, 1024).served, 500u);
  try {
    connectionLimits(5000, 1024);
    FAIL() << "serve.max_connections=5000 accepted with 1024 descriptors";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("serve.max_connections=5000"), std::string::npos) << what;
    EXPECT_NE(what.find("ulimit -n) of 1024"), std::string::npos) << what;
    const size_t at = what.find("at most ");
    ASSERT_NE(at, std::string::npos) << what;
    const int64_t most = std::stoll(what.substr(at + 8));
    EXPECT_NO_THROW(connectionLimits(most, 1024)) << what;
    EXPECT_THROW(connectionLimits(most + 1, 1024), ConfigError) << what;
  }
}

}  // namespace
}  // namespace autoglm::launch::serve
