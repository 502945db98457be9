// Closed-loop HTTP load generator for `autoglm serve` and the PyTorch reference
// server (benchmarks/serve/run.sh drives it).
//
// Each client is one thread with one keep-alive HTTP/1.1 connection: it sends
// POST <url> with {"texts": [...]} (K texts, taken round-robin over the lines of
// --texts by all clients together), waits for the answer, and sends the next.
// A request counts when it started after the warm-up; it succeeds when the
// answer is 200 and JSON whose "results" array has K entries, otherwise it is an
// error (a connection that fails or times out is reopened and counts as one).
// Prints one JSON line:
//   {"clients", "requests" (successful), "errors", "seconds", "requests_per_s",
//    "texts_per_request", "texts_per_s",
//    "p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms"}
// Latency is per successful request, from before the write to after the whole
// answer was read; percentiles are nearest-rank. Exit status 0 when at least
// one request succeeded, 1 when none did, 2 for bad arguments.
//
//   serve_load_gen --url http://127.0.0.1:8080 --clients 8 --duration-s 10
//                  --warmup-s 2 --texts texts.txt [--texts-per-request 1]
//
// Only loopback or the project's own test hosts are valid targets.

#include <sys/socket.h>

#include <CLI/CLI.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace autoglm::bench::serve {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Url {
  std::string host;
  std::string port;
  std::string target;  // path of the classify endpoint
};

// http://HOST:PORT[/PATH]; the path defaults to /v1/classify.
Url parseUrl(const std::string& url) {
  const std::string scheme = "http://";
  if (url.compare(0, scheme.size(), scheme) != 0) {
    throw std::invalid_argument("--url " + url + ": only http://HOST:PORT[/PATH] is supported");
  }
  const std::string rest = url.substr(scheme.size());
  const size_t slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  Url u;
  u.target = slash == std::string::npos || slash + 1 == rest.size() ? "/v1/classify" : rest.substr(slash);
  const size_t colon = authority.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == authority.size()) {
    throw std::invalid_argument("--url " + url + ": needs HOST:PORT");
  }
  u.host = authority.substr(0, colon);
  u.port = authority.substr(colon + 1);
  if (u.port.find_first_not_of("0123456789") != std::string::npos) {
    throw std::invalid_argument("--url " + url + ": port '" + u.port + "' is not a number");
  }
  return u;
}

std::vector<std::string> readTexts(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("--texts " + path + ": cannot open");
  std::vector<std::string> texts;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) texts.push_back(std::move(line));
  }
  if (texts.empty()) throw std::runtime_error("--texts " + path + ": no non-empty lines");
  return texts;
}

// One body per starting line: {"texts": [line i, i+1, ..., i+K-1]} (wrapping).
std::vector<std::string> buildBodies(const std::vector<std::string>& texts, int k) {
  std::vector<std::string> bodies;
  bodies.reserve(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    nlohmann::json j;
    j["texts"] = nlohmann::json::array();
    for (int t = 0; t < k; ++t) j["texts"].push_back(texts[(i + static_cast<size_t>(t)) % texts.size()]);
    // Texts need not be valid UTF-8: replace what is not, as a JSON client must.
    bodies.push_back(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  return bodies;
}

// Where a client's request in flight can be cut off from another thread (the
// per-request timeout): the socket's descriptor while a request is in flight.
class InFlight {
 public:
  void begin(int fd) {
    std::lock_guard<std::mutex> lock(mu_);
    fd_ = fd;
    since_ = Clock::now();
    cut_ = false;
  }
  // Returns whether the request was cut off by expire().
  bool end() {
    std::lock_guard<std::mutex> lock(mu_);
    fd_ = -1;
    return cut_;
  }
  // Shuts the socket down when its request has taken longer than `timeout`
  // (the client's blocking read then fails). The client closes the socket only
  // after end(), so the descriptor is still its own here.
  void expire(Clock::time_point now, Clock::duration timeout) {
    std::lock_guard<std::mutex> lock(mu_);
    if (fd_ >= 0 && !cut_ && now - since_ > timeout) {
      ::shutdown(fd_, SHUT_RDWR);
      cut_ = true;
    }
  }

 private:
  std::mutex mu_;
  int fd_ = -1;
  Clock::time_point since_;
  bool cut_ = false;
};

struct Schedule {
  Clock::time_point measure_from;  // requests started before are warm-up
  Clock::time_point stop;          // no request starts at or after this
};

struct ClientResult {
  std::vector<double> latency_ms;  // successful measured requests
  int64_t errors = 0;              // measured requests that failed
  int64_t warmup_errors = 0;
  Clock::time_point last_done{};
  std::string first_error;
};

class Client {
 public:
  Client(const Url& url, tcp::resolver::results_type endpoints, const std::vector<std::string>& bodies,
         std::atomic<uint64_t>& next, int texts_per_request, InFlight& in_flight)
      : url_(url), endpoints_(std::move(endpoints)), bodies_(bodies), next_(next), k_(texts_per_request),
        in_flight_(in_flight) {}

  ClientResult run(const Schedule& s) {
    ClientResult r;
    while (true) {
      const Clock::time_point t0 = Clock::now();
      if (t0 >= s.stop) break;
      const bool measured = t0 >= s.measure_from;
      std::string error;
      if (!socket_.is_open()) error = connect();
      if (error.empty()) {
        error = request(bodies_[next_.fetch_add(1) % bodies_.size()]);
        if (!error.empty()) close();
      } else {
        // The server is not there (yet, or any more): do not spin on it.
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      const Clock::time_point t1 = Clock::now();
      if (!error.empty()) {
        if (r.first_error.empty()) r.first_error = error;
        ++(measured ? r.errors : r.warmup_errors);
      } else if (measured) {
        r.latency_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      }
      if (measured) r.last_done = t1;
    }
    close();
    return r;
  }

 private:
  std::string connect() {
    beast::error_code ec;
    asio::connect(socket_, endpoints_, ec);
    if (ec) {
      close();
      return "connect to " + url_.host + ":" + url_.port + ": " + ec.message();
    }
    socket_.set_option(tcp::no_delay(true), ec);
    buffer_.clear();
    return {};
  }

  void close() {
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

  // One request and its answer; "" on success, else what went wrong.
  std::string request(const std::string& body) {
    http::request<http::string_body> req{http::verb::post, url_.target, 11};
    req.set(http::field::host, url_.host + ":" + url_.port);
    req.set(http::field::content_type, "application/json");
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    http::response<http::string_body> res;
    beast::error_code ec;
    in_flight_.begin(socket_.native_handle());
    http::write(socket_, req, ec);
    if (!ec) http::read(socket_, buffer_, res, ec);
    const bool cut = in_flight_.end();
    if (cut) return "request timed out";
    if (ec) return "HTTP exchange: " + ec.message();
    std::string error = checkAnswer(res);
    if (error.empty() && !res.keep_alive()) close();  // the server closes; reopen next time
    return error;
  }

  std::string checkAnswer(const http::response<http::string_body>& res) const {
    if (res.result_int() != 200) {
      return "HTTP " + std::to_string(res.result_int()) + ": " + res.body().substr(0, 200);
    }
    const nlohmann::json j = nlohmann::json::parse(res.body(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return "answer is not JSON: " + res.body().substr(0, 200);
    if (!j.is_object() || !j.contains("results") || !j["results"].is_array()) {
      return "answer has no results array: " + res.body().substr(0, 200);
    }
    if (j["results"].size() != static_cast<size_t>(k_)) {
      return "answer has " + std::to_string(j["results"].size()) + " results for " + std::to_string(k_) + " texts";
    }
    return {};
  }

  const Url& url_;
  tcp::resolver::results_type endpoints_;
  const std::vector<std::string>& bodies_;
  std::atomic<uint64_t>& next_;
  int k_;
  InFlight& in_flight_;
  asio::io_context ioc_;
  tcp::socket socket_{ioc_};
  beast::flat_buffer buffer_;
};

// Nearest-rank percentile of sorted values.
double percentile(const std::vector<double>& sorted, double p) {
  const auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

double round3(double v) { return std::round(v * 1000.0) / 1000.0; }

struct Options {
  std::string url;
  int clients = 1;
  double duration_s = 10.0;
  double warmup_s = 2.0;
  double timeout_s = 30.0;
  std::string texts;
  int texts_per_request = 1;
};

int run(const Options& o) {
  const Url url = parseUrl(o.url);
  const std::vector<std::string> bodies = buildBodies(readTexts(o.texts), o.texts_per_request);
  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  const tcp::resolver::results_type endpoints = resolver.resolve(url.host, url.port);

  std::atomic<uint64_t> next{0};
  std::vector<InFlight> in_flight(static_cast<size_t>(o.clients));
  std::vector<std::unique_ptr<Client>> clients;
  for (int c = 0; c < o.clients; ++c) {
    clients.push_back(std::make_unique<Client>(url, endpoints, bodies, next, o.texts_per_request,
                                               in_flight[static_cast<size_t>(c)]));
  }
  const auto secs = [](double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  };
  Schedule s;
  const Clock::time_point start = Clock::now();
  s.measure_from = start + secs(o.warmup_s);
  s.stop = s.measure_from + secs(o.duration_s);

  std::vector<ClientResult> results(clients.size());
  std::vector<std::thread> threads;
  std::atomic<int> running{o.clients};
  for (size_t c = 0; c < clients.size(); ++c) {
    threads.emplace_back([&, c] {
      results[c] = clients[c]->run(s);
      running.fetch_sub(1);
    });
  }
  // Cuts off requests that take longer than the timeout, so the run ends by
  // stop + timeout whatever the server does.
  const Clock::duration timeout = secs(o.timeout_s);
  while (running.load() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const Clock::time_point now = Clock::now();
    for (auto& f : in_flight) f.expire(now, timeout);
  }
  for (auto& t : threads) t.join();

  std::vector<double> lat;
  int64_t errors = 0, warmup_errors = 0;
  Clock::time_point last = s.measure_from;
  std::string first_error;
  for (const auto& r : results) {
    lat.insert(lat.end(), r.latency_ms.begin(), r.latency_ms.end());
    errors += r.errors;
    warmup_errors += r.warmup_errors;
    last = std::max(last, r.last_done);
    if (first_error.empty()) first_error = r.first_error;
  }
  std::sort(lat.begin(), lat.end());
  // The measured window: from the end of the warm-up to the last answer.
  const double seconds = std::chrono::duration<double>(last - s.measure_from).count();
  const auto n = static_cast<int64_t>(lat.size());
  nlohmann::ordered_json out;  // keys in the order documented above
  out["clients"] = o.clients;
  out["requests"] = n;
  out["errors"] = errors;
  out["seconds"] = round3(seconds);
  out["requests_per_s"] = seconds > 0 ? round3(static_cast<double>(n) / seconds) : 0.0;
  out["texts_per_request"] = o.texts_per_request;
  out["texts_per_s"] = seconds > 0 ? round3(static_cast<double>(n * o.texts_per_request) / seconds) : 0.0;
  for (const auto& [key, p] : {std::pair<const char*, double>{"p50_ms", 50.0}, {"p90_ms", 90.0}, {"p99_ms", 99.0}}) {
    out[key] = n > 0 ? nlohmann::ordered_json(round3(percentile(lat, p))) : nlohmann::ordered_json(nullptr);
  }
  out["max_ms"] = n > 0 ? nlohmann::ordered_json(round3(lat.back())) : nlohmann::ordered_json(nullptr);
  double sum = 0;
  for (double v : lat) sum += v;
  out["mean_ms"] = n > 0 ? nlohmann::ordered_json(round3(sum / static_cast<double>(n))) : nlohmann::ordered_json(nullptr);
  if (errors + warmup_errors > 0) {
    std::cerr << "serve_load_gen: " << errors << " errors (" << warmup_errors
              << " more during warm-up); first: " << first_error << "\n";
  }
  std::cout << out.dump() << std::endl;
  return n > 0 ? 0 : 1;
}

}  // namespace
}  // namespace autoglm::bench::serve

int main(int argc, char** argv) {
  using autoglm::bench::serve::Options;
  CLI::App app{"Closed-loop HTTP load generator for POST /v1/classify"};
  Options o;
  app.add_option("--url", o.url, "http://HOST:PORT[/PATH] (path default /v1/classify)")->required();
  app.add_option("--clients", o.clients, "concurrent clients, one connection each")
      ->check(CLI::Range(1, 4096));
  app.add_option("--duration-s", o.duration_s, "measured seconds")->check(CLI::PositiveNumber);
  app.add_option("--warmup-s", o.warmup_s, "seconds of unmeasured requests first")->check(CLI::NonNegativeNumber);
  app.add_option("--timeout-s", o.timeout_s, "a request taking longer is cut off and counts as an error")
      ->check(CLI::PositiveNumber);
  app.add_option("--texts", o.texts, "file with one text per line (empty lines skipped)")->required();
  app.add_option("--texts-per-request", o.texts_per_request, "texts in each request")->check(CLI::Range(1, 4096));
  CLI11_PARSE(app, argc, argv);
  try {
    return autoglm::bench::serve::run(o);
  } catch (const std::exception& e) {
    std::cerr << "serve_load_gen: " << e.what() << "\n";
    return 2;
  }
}
