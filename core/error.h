#pragma once
// Exception hierarchy and checking macros shared by every library.
//
// Library code never calls exit(): it throws one of these, and the CLI maps
// them to exit codes (ConfigError -> 2, everything else -> 1).

#include <sstream>
#include <stdexcept>
#include <string>

namespace autoglm {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad configuration: message names the YAML key path (and file:line when known).
class ConfigError : public Error {
 public:
  using Error::Error;
};

// Bad or missing input data: message names the file (and line when known).
class DataError : public Error {
 public:
  using Error::Error;
};

// Failure in a collective or point-to-point operation: names rank, op, sequence.
class CommError : public Error {
 public:
  using Error::Error;
};

// Unreadable, corrupt or incompatible checkpoint.
class CheckpointError : public Error {
 public:
  using Error::Error;
};

namespace detail {

template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

[[noreturn]] void throwCheckFailure(const char* file, int line, const char* cond,
                                    const std::string& msg);

}  // namespace detail
}  // namespace autoglm

// Internal invariant check: throws autoglm::Error with file, line and message.
#define AUTOGLM_CHECK(cond, ...)                                                        \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      ::autoglm::detail::throwCheckFailure(__FILE__, __LINE__, #cond,                   \
                                           ::autoglm::detail::concat(__VA_ARGS__));     \
    }                                                                                   \
  } while (0)
