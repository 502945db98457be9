#pragma once
// Helpers shared by the trainer tests: temporary folders and a small, fast
// experiment on the bundled R8 data.

#include <unistd.h>

#include <filesystem>
#include <string>

#include "trainer/config/experiment_config.h"

namespace autoglm::trainer::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    path_ = std::filesystem::temp_directory_path() /
            ("autoglm_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string str() const { return path_.string(); }
  std::filesystem::path operator/(const std::string& s) const { return path_ / s; }

 private:
  static int& counter() {
    static int c = 0;
    return c;
  }
  std::filesystem::path path_;
};

// A small model on bundled R8 that trains in seconds; the graph cache is shared
// by all tests of the binary (one folder per process).
inline ExperimentConfig smallR8Config(const std::string& out_dir) {
  ExperimentConfig cfg;
  cfg.run.out_dir = out_dir;
  cfg.run.seed = 7;
  cfg.data.dir = std::string(AUTOGLM_SOURCE_ROOT) + "/data/r8";
  cfg.data.cache_dir = (std::filesystem::temp_directory_path() / ("autoglm_test_cache_" + std::to_string(::getpid()))).string();
  cfg.graph.max_doc_len = 64;
  cfg.model.embed_dim = 16;
  cfg.model.layers = 1;
  cfg.model.heads = 2;
  cfg.model.head_dim = 8;
  cfg.model.head_hidden = 16;
  cfg.train.batch_graphs = 16;
  cfg.train.warmup_steps = 3;
  cfg.train.progress = ProgressMode::kOff;
  cfg.train.log_every = 1000;
  return cfg;
}

// smallR8Config with dropout off and a model that splits unevenly over tp = 2
// (5 heads: 3 + 2) and into stages (2 blocks): layouts compared with one process.
inline ExperimentConfig smallShardableConfig(const std::string& out_dir) {
  ExperimentConfig cfg = smallR8Config(out_dir);
  cfg.model.dropout = 0.0;
  cfg.model.attn_dropout = 0.0;
  cfg.model.layers = 2;
  cfg.model.heads = 5;
  cfg.model.head_dim = 4;
  cfg.model.embed_dim = 12;
  cfg.model.head_hidden = 10;
  cfg.parallel.bucket_mb = 0.01;
  return cfg;
}

}  // namespace autoglm::trainer::testing
