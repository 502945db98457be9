#include "core/host_runtime.h"

#include <malloc.h>
#include <unistd.h>

namespace autoglm::core {

void configureHostRuntime() {
  mallopt(M_MMAP_THRESHOLD, 1 << 30);  // allocations below 1 GiB come from the heap
  mallopt(M_TRIM_THRESHOLD, 1 << 30);  // and freed memory stays there for the next step
  mallopt(M_TOP_PAD, 64 << 20);
}

std::string hostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "?";
  return name;
}

}  // namespace autoglm::core
