#pragma once
// Process-wide settings for CPU training, applied once by each executable's
// main() (never by library code on its own).
//
// glibc serves large allocations with fresh mmap()s and unmaps them on free, so
// every training step pays page faults for each activation and gradient buffer
// (tens of MB a step here). Raising the mmap and trim thresholds keeps freed
// blocks in the heap for reuse, as tcmalloc or jemalloc would.

#include <string>

namespace autoglm::core {

void configureHostRuntime();

// This host's name (gethostname), "?" if it cannot be read: for reports that name a rank's host.
std::string hostName();

}  // namespace autoglm::core
