// Sizes as configs write them, and the cgroup memory limit read from a fake
// cgroup mount (v1 and v2 layouts; the tightest of the process's cgroup and
// its ancestors binds).

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/memory_limit.h"
#include "tests/temp_dir_test.h"

namespace autoglm::core {
namespace {
namespace fs = std::filesystem;

TEST(ParseBytesTest, UnitsAndErrors) {
  EXPECT_EQ(parseBytes("4GiB", "run.memory_limit"), int64_t{4} << 30);
  EXPECT_EQ(parseBytes("4G", "k"), int64_t{4} << 30);
  EXPECT_EQ(parseBytes("1.5 MiB", "k"), 1572864);
  EXPECT_EQ(parseBytes("2GB", "k"), 2000000000);
  EXPECT_EQ(parseBytes("100000", "k"), 100000);
  for (const char* bad : {"", "GiB", "-1G", "4 gigs", "0"}) {
    try {
      parseBytes(bad, "run.memory_limit");
      FAIL() << bad;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("run.memory_limit"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(formatBytes(int64_t{3} << 30), "3.00 GiB");
}

class CgroupLimitTest : public testing::TempDirTest {
 protected:
  void put(const fs::path& rel, const std::string& value) {
    fs::create_directories((dir_ / rel).parent_path());
    std::ofstream(dir_ / rel) << value << '\n';
  }
  fs::path own() const { return fs::path(cgroupPath()).relative_path(); }
};

TEST_F(CgroupLimitTest, V1OwnLimitBindsBelowAnUnlimitedRoot) {
  put(fs::path("memory") / own() / "memory.limit_in_bytes", "1073741824");
  put(fs::path("memory") / "memory.limit_in_bytes", "9223372036854771712");
  EXPECT_EQ(cgroupMemoryLimit(dir_.string()), int64_t{1} << 30);
}

TEST_F(CgroupLimitTest, V2AncestorBindsWhenTighter) {
  put(own() / "memory.max", "max");
  put("memory.max", "2147483648");
  EXPECT_EQ(cgroupMemoryLimit(dir_.string()), int64_t{2} << 30);
}

TEST_F(CgroupLimitTest, NoLimitFiles) { EXPECT_FALSE(cgroupMemoryLimit(dir_.string()).has_value()); }

}  // namespace
}  // namespace autoglm::core
