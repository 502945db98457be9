#include "core/error.h"

namespace autoglm::detail {

void throwCheckFailure(const char* file, int line, const char* cond, const std::string& msg) {
  std::ostringstream os;
  os << msg << " [check '" << cond << "' failed at " << file << ":" << line << "]";
  throw Error(os.str());
}

}  // namespace autoglm::detail
