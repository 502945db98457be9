#include "trainer/config/experiment_config.h"

#include <gtest/gtest.h>

#include <filesystem>

#include <fstream>

#include "core/error.h"
#include "tests/trainer/test_util.h"

namespace autoglm::trainer {
namespace {

using testing::TempDir;

std::string configError(const std::string& yaml, std::vector<std::string> overrides = {}) {
  TempDir dir("cfg");
  const std::string path = (dir / "x.yaml").string();
  std::ofstream(path) << yaml;
  try {
    ExperimentConfig::load(path, overrides);
  } catch (const ConfigError& e) {
    std::string msg = e.what();
    // Strip the temporary folder so the assertions read naturally.
    auto pos = msg.find("x.yaml");
    return pos == std::string::npos ? msg : msg.substr(pos);
  }
  return "";
}

TEST(ExperimentConfig, DefaultConfigLoadsWithIssueSettings) {
  ExperimentConfig cfg = ExperimentConfig::load(std::string(AUTOGLM_SOURCE_ROOT) + "/configs/r8_gat.yaml");
  EXPECT_EQ(cfg.model.embed_dim, 100);
  EXPECT_EQ(cfg.model.embed_init, core::model::EmbedInit::kPretrained);
  EXPECT_EQ(cfg.model.vectors, "data/r8/vectors.agvec");
  EXPECT_EQ(cfg.model.layers, 2);
  EXPECT_EQ(cfg.model.heads, 4);
  EXPECT_EQ(cfg.model.head_dim, 32);
  EXPECT_EQ(cfg.graph.window, 3);
  EXPECT_EQ(cfg.data.dir, "data/r8");
}

TEST(ExperimentConfig, EveryShippedConfigLoads) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(std::string(AUTOGLM_SOURCE_ROOT) + "/configs")) {
    if (e.path().extension() != ".yaml") continue;
    EXPECT_NO_THROW(ExperimentConfig::load(e.path().string())) << e.path();
    ++n;
  }
  EXPECT_GE(n, 10);
  const ExperimentConfig mr = ExperimentConfig::load(std::string(AUTOGLM_SOURCE_ROOT) + "/configs/mr_glove.yaml");
  EXPECT_EQ(mr.model.embed_init, core::model::EmbedInit::kPretrained);
  EXPECT_EQ(mr.model.vectors, mr.vocab.vectors);
}

TEST(ExperimentConfig, EachErrorNamesItsPath) {
  EXPECT_EQ(configError("train:\n  lr: -0.1\n"), "x.yaml:2: train.lr=-0.1: must be > 0");
  EXPECT_EQ(configError("train:\n  epoch: 3\n"), "x.yaml:2: unknown key 'train.epoch'");
  EXPECT_EQ(configError("model:\n  heads: four\n"), "x.yaml:2: model.heads=four: expected an integer");
  EXPECT_EQ(configError("model:\n  dropout: 1.5\n"), "x.yaml:2: model.dropout=1.5: must be in [0, 1)");
  EXPECT_EQ(configError("graph:\n  window: 0\n"), "x.yaml:2: graph.window=0: must be >= 1");
  EXPECT_EQ(configError("train:\n  optimizer: sgd\n"),
            "x.yaml:2: train.optimizer=sgd: must be one of: adam, adamw, adagrad");
  EXPECT_EQ(configError("parallel:\n  reducer_mode: later\n"),
            "x.yaml:2: parallel.reducer_mode=later: must be one of: overlap, after_backward, off");
  EXPECT_EQ(configError("model:\n  attention: [fused]\n"),
            "x.yaml:2: model.attention=[...]: must be one of: fused, reference");
  EXPECT_EQ(configError("data: [1, 2]\n"), "x.yaml:1: data=[...]: expected a map of settings");
  EXPECT_NE(configError("train:\n  lr: [\n").find("YAML syntax error"), std::string::npos);
  EXPECT_NE(configError("{}", {"train.lr=-1"}).find("train.lr=-1: must be > 0"), std::string::npos);
}

TEST(ExperimentConfig, OverridesAndPrintedConfigRoundTrip) {
  TempDir dir("cfg");
  const std::string path = (dir / "x.yaml").string();
  std::ofstream(path) << "train:\n  lr: 0.01\n";
  ExperimentConfig cfg = ExperimentConfig::load(path, {"train.epochs=7", "model.readout=attention"});
  EXPECT_EQ(cfg.train.lr, 0.01);
  EXPECT_EQ(cfg.train.epochs, 7);
  EXPECT_EQ(cfg.model.readout, core::model::ReadoutKind::kAttention);
  EXPECT_NE(cfg.toYaml().find("readout: attention"), std::string::npos) << "modes print by name";
  ExperimentConfig back = ExperimentConfig::fromYaml(YAML::Load(cfg.toYaml()), "printed");
  EXPECT_EQ(back.toYaml(), cfg.toYaml());
  EXPECT_EQ(back.train.epochs, 7);
}

}  // namespace
}  // namespace autoglm::trainer
