#include "launch/rank_channel.h"

#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>

#include "core/error.h"

namespace autoglm::launch {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using autoglm::detail::concat;

std::string randomSecret() {
  unsigned char bytes[32];
  size_t got = 0;
  while (got < sizeof(bytes)) {
    const ssize_t n = ::getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(std::string("getrandom: ") + std::strerror(errno));
    }
    got += static_cast<size_t>(n);
  }
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

// Equal strings, in time that does not depend on where they differ.
bool sameSecret(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

struct RankChannel::Session {
  explicit Session(asio::io_context& io) : socket(io), buffer(kMaxLine), hello_timer(io) {}
  tcp::socket socket;
  asio::streambuf buffer;
  asio::steady_timer hello_timer;
  std::string peer;  // "address:port", for the log
  int rank = -1;     // set by an accepted hello
  bool open = true;
};

RankChannel::RankChannel(asio::io_context& io, int world, const std::string& bind_address, double hello_s,
                         Handlers handlers)
    : io_(io),
      world_(world),
      hello_s_(hello_s),
      handlers_(std::move(handlers)),
      secret_(randomSecret()),
      acceptor_(io),
      by_rank_(static_cast<size_t>(world), nullptr) {
  const tcp::endpoint ep(asio::ip::make_address(bind_address), 0);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen();
}

RankChannel::~RankChannel() = default;

uint16_t RankChannel::port() const { return acceptor_.local_endpoint().port(); }

void RankChannel::start() { accept(); }

bool RankChannel::connected(int rank) const {
  const Session* s = by_rank_[static_cast<size_t>(rank)];
  return s != nullptr && s->open;
}

void RankChannel::send(int rank, const std::string& line) {
  Session* s = by_rank_[static_cast<size_t>(rank)];
  if (s == nullptr || !s->open) return;
  auto text = std::make_shared<std::string>(line + "\n");
  asio::async_write(s->socket, asio::buffer(*text), [text](const boost::system::error_code&, size_t) {});
}

void RankChannel::accept() {
  auto session = std::make_shared<Session>(io_);
  acceptor_.async_accept(session->socket, [this, session](const boost::system::error_code& ec) {
    if (ec == asio::error::operation_aborted) return;
    if (ec) {  // out of descriptors, say: try again shortly, without a line per attempt
      auto retry = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(100));
      retry->async_wait([this, retry](const boost::system::error_code&) { accept(); });
      return;
    }
    boost::system::error_code e;
    const auto remote = session->socket.remote_endpoint(e);
    session->peer = e ? std::string("?") : concat(remote.address().to_string(), ":", remote.port());
    sessions_.erase(std::remove_if(sessions_.begin(), sessions_.end(), [](const auto& s) { return !s->open; }),
                    sessions_.end());
    sessions_.push_back(session);
    int waiting = 0;
    for (const auto& other : sessions_) waiting += other->rank < 0 ? 1 : 0;
    if (waiting > kSpareSessions) {
      for (const auto& other : sessions_) {
        if (other->rank < 0) {
          close(*other, concat("more than ", kSpareSessions, " connections without a hello"));
          break;
        }
      }
    }
    if (session->open) {
      session->hello_timer.expires_after(
          std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(hello_s_)));
      session->hello_timer.async_wait([this, session](const boost::system::error_code& te) {
        if (!te && session->open && session->rank < 0) close(*session, concat("no hello within ", hello_s_, " s"));
      });
      read(session);
    }
    accept();
  });
}

void RankChannel::read(const std::shared_ptr<Session>& s) {
  asio::async_read_until(s->socket, s->buffer, '\n', [this, s](const boost::system::error_code& e, size_t) {
    if (!s->open) return;
    if (e == asio::error::not_found) {
      close(*s, concat("a line longer than ", kMaxLine, " bytes"));
      return;
    }
    if (e) {
      closed(*s);
      return;
    }
    std::istream in(&s->buffer);
    std::string line;
    std::getline(in, line);
    try {
      onLine(*s, line);
    } catch (const std::exception& ex) {  // a field of the wrong type, a bad hex string: that client's problem
      close(*s, concat("malformed message (", ex.what(), ")"));
    }
    if (s->open) read(s);
  });
}

void RankChannel::close(Session& s, const std::string& reason) {
  if (!s.open) return;
  ++rejected_;
  if (rejected_ <= 20 || rejected_ % 1000 == 0) {
    std::cerr << "autoglm-launch: supervisor: closed the connection from " << s.peer
              << (s.rank >= 0 ? concat(" (rank ", s.rank, ")") : std::string()) << ": " << reason
              << (rejected_ == 20 ? " (further such lines: one per 1000)" : "") << std::endl;
  }
  boost::system::error_code ignored;
  s.socket.shutdown(tcp::socket::shutdown_both, ignored);
  s.socket.close(ignored);
  s.hello_timer.cancel();
  closed(s);
}

void RankChannel::closed(Session& s) {
  if (!s.open) return;
  s.open = false;
  if (s.rank < 0) return;
  if (by_rank_[static_cast<size_t>(s.rank)] == &s) by_rank_[static_cast<size_t>(s.rank)] = nullptr;
  if (handlers_.on_closed) handlers_.on_closed(s.rank);
}

void RankChannel::onLine(Session& s, const std::string& line) {
  const nlohmann::json msg = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!msg.is_object()) {
    close(s, msg.is_discarded() ? "not JSON" : "not a JSON object");
    return;
  }
  const auto t = msg.find("t");
  if (t == msg.end() || !t->is_string()) {
    close(s, "no message type \"t\"");
    return;
  }
  const std::string type = t->get<std::string>();
  if (s.rank < 0) {
    if (type != "hello") {
      close(s, concat("'", type, "' before hello"));
      return;
    }
    onHello(s, msg);
    return;
  }
  const auto r_it = msg.find("rank");
  if (r_it != msg.end() && !(r_it->is_number_integer() && r_it->get<int>() == s.rank)) {
    close(s, concat("a message for rank ", r_it->dump(), " on rank ", s.rank, "'s connection"));
    return;
  }
  if (type == "hello") {
    close(s, "a second hello");
    return;
  }
  handlers_.on_message(s.rank, type, msg);
}

void RankChannel::onHello(Session& s, const nlohmann::json& msg) {
  const auto secret = msg.find("secret");
  if (secret == msg.end() || !secret->is_string() || !sameSecret(secret->get<std::string>(), secret_)) {
    close(s, "hello without the job's secret");
    return;
  }
  const auto rank_it = msg.find("rank");
  if (rank_it == msg.end() || !rank_it->is_number_integer()) {
    close(s, "hello without an integer rank");
    return;
  }
  const int64_t rank = rank_it->get<int64_t>();
  if (rank < 0 || rank >= world_) {
    close(s, concat("hello from rank ", rank, " in a job of ", world_));
    return;
  }
  if (connected(static_cast<int>(rank))) {
    close(s, concat("rank ", rank, " is already connected"));
    return;
  }
  s.rank = static_cast<int>(rank);
  s.hello_timer.cancel();
  by_rank_[static_cast<size_t>(rank)] = &s;
  handlers_.on_hello(s.rank, msg);
}

}  // namespace autoglm::launch
