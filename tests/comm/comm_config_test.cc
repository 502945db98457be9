#include "comm/comm_config.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/yaml_config.h"

namespace autoglm::comm {
namespace {

CommConfig read(const std::string& yaml) {
  CommConfig cfg;
  core::YamlReader reader(YAML::Load(yaml), "test.yaml", "comm");
  cfg.visit(reader);
  reader.finish();
  cfg.validate();
  return cfg;
}

TEST(CommConfig, DefaultsAreValid) {
  CommConfig cfg;
  EXPECT_NO_THROW(cfg.validate());
  EXPECT_EQ(cfg.backend, Backend::kMpi);
}

TEST(CommConfig, ReadsYaml) {
  CommConfig cfg = read("{backend: nccl, large_allreduce_threshold_bytes: -1, large_allreduce_algorithm: ring, "
                        "large_allreduce_chunk_bytes: 65536, timeout_ms: 1000}");
  EXPECT_EQ(cfg.backend, Backend::kNccl);
  EXPECT_EQ(cfg.large_allreduce_threshold_bytes, -1);
  EXPECT_EQ(cfg.large_allreduce_algorithm, LargeAllreduceAlgorithm::kRing);
  EXPECT_EQ(cfg.large_allreduce_chunk_bytes, 65536);
  EXPECT_EQ(cfg.timeout_ms, 1000);
}

TEST(CommConfig, ReadsSharedMemoryKeys) {
  CommConfig cfg = read("{shm_allreduce: false, shm_chunk_bytes: 65536, shm_direct_max_bytes: 1024}");
  EXPECT_FALSE(cfg.shm_allreduce);
  EXPECT_EQ(cfg.shm_chunk_bytes, 65536);
  EXPECT_EQ(cfg.shm_direct_max_bytes, 1024);
  EXPECT_TRUE(CommConfig{}.shm_allreduce);
  try {
    read("{shm_chunk_bytes: 8192, shm_direct_max_bytes: 16384}");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("comm.shm_direct_max_bytes"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read("{shm_chunk_bytes: 100}"), ConfigError);
}

TEST(CommConfig, ErrorsNameTheKey) {
  try {
    read("{backend: gloo}");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("comm.backend"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read("{large_allreduce_chunk_bytes: 10}"), ConfigError);
  EXPECT_THROW(read("{large_allreduce_algorithm: tree}"), ConfigError);
  EXPECT_THROW(read("{unknown_key: 1}"), ConfigError);
}

TEST(CommConfig, WritesYamlRoundTrip) {
  CommConfig cfg;
  cfg.large_allreduce_chunk_bytes = 1 << 16;
  const std::string text = core::toYamlString(cfg);
  EXPECT_EQ(read(text).large_allreduce_chunk_bytes, 1 << 16);
}

}  // namespace
}  // namespace autoglm::comm
