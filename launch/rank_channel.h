#pragma once
// The supervisor's port (supervisor.h): the connections of a job's ranks, and
// the rules that keep anyone else who reaches the port from crashing or
// steering the job.
//
// A connection must say hello with the job's secret (secret(): random per
// channel, compared in constant time) and a rank of the job not connected yet,
// within hello_s. After that it speaks for its own rank only: a line that
// names another rank, a second hello, a line that is not a JSON object with a
// string "t", a line longer than kMaxLine, or a message the handler throws on
// closes that connection, with one logged line (at most 20, then one per
// 1000). At most kSpareSessions connections wait for their hello at once;
// past that the oldest waiting one is closed. Nothing a client sends ends the
// job: the supervisor only learns that a rank's connection closed.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace autoglm::launch {

class RankChannel {
 public:
  static constexpr size_t kMaxLine = 8 << 20;
  static constexpr int kSpareSessions = 8;

  struct Handlers {
    std::function<void(int rank, const nlohmann::json& hello)> on_hello;
    // Any other message of an accepted rank; throwing closes its connection.
    std::function<void(int rank, const std::string& type, const nlohmann::json& msg)> on_message;
    std::function<void(int rank)> on_closed;  // an accepted rank's connection closed
  };

  // Listens on bind_address (an IPv4 address; port chosen by the system).
  RankChannel(boost::asio::io_context& io, int world, const std::string& bind_address, double hello_s,
              Handlers handlers);
  ~RankChannel();
  RankChannel(const RankChannel&) = delete;
  RankChannel& operator=(const RankChannel&) = delete;

  uint16_t port() const;
  const std::string& secret() const { return secret_; }
  void start();                                        // accepts from now on
  bool connected(int rank) const;
  void send(int rank, const std::string& line);        // a line to a connected rank (best effort)

 private:
  struct Session;
  void accept();
  void read(const std::shared_ptr<Session>& s);
  void onLine(Session& s, const std::string& line);
  void onHello(Session& s, const nlohmann::json& msg);
  void close(Session& s, const std::string& reason);
  void closed(Session& s);

  boost::asio::io_context& io_;
  int world_;
  double hello_s_;
  Handlers handlers_;
  std::string secret_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::vector<std::shared_ptr<Session>> sessions_;  // open ones (closed ones leave at the next accept)
  std::vector<Session*> by_rank_;                   // the accepted connection of each rank, while open
  int64_t rejected_ = 0;
};

}  // namespace autoglm::launch
