#pragma once
// How much memory this process may use: the limit of its cgroup (v2
// memory.max, or v1 memory.limit_in_bytes), and byte sizes as people write
// them in configs ("4GiB", "512MiB", "1.5G", "100000").

#include <cstdint>
#include <optional>
#include <string>

namespace autoglm::core {

// The memory limit of this process's cgroup in bytes, or nothing when there is
// none ("max", or a v1 limit near 2^63). `root` is the cgroup mount (a test seam).
std::optional<int64_t> cgroupMemoryLimit(const std::string& root = "/sys/fs/cgroup");
// This process's cgroup path ("/user.slice/..."), or "" when unknown.
std::string cgroupPath();

// Bytes of "<number>[unit]" with unit one of B, K, KB, KiB, M, MB, MiB, G, GB,
// GiB, T, TB, TiB (K/M/G/T alone and KiB.. are powers of 1024; KB, MB.. of
// 1000). Throws ConfigError naming `key` for anything else.
int64_t parseBytes(const std::string& text, const std::string& key);
// "3.2 GiB", "512.0 MiB".
std::string formatBytes(int64_t bytes);

}  // namespace autoglm::core
