#pragma once
// The server's open connections, so that a drain can reach the idle ones and
// knows when the last one has closed. Thread-safe. Holds weak references:
// a session lives as long as its pending operations do.

#include <cstddef>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace autoglm::launch::serve {

class Session;

class SessionRegistry {
 public:
  void add(const std::shared_ptr<Session>& session);
  // Forgets `session` (called from its destructor); returns how many are left.
  size_t remove(const Session* session);
  // The sessions still alive.
  std::vector<std::shared_ptr<Session>> live() const;
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<const Session*, std::weak_ptr<Session>> sessions_;
};

}  // namespace autoglm::launch::serve
