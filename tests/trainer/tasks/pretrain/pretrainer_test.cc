// Contrastive pre-training on one process: the InfoNCE loss falls over a few
// epochs on bundled R8, the encoder moves and the classification head does
// not, the checkpoint is a training checkpoint (`eval` reads it, `train
// --init-from` starts from its parameters), and `train` with pretrain.epochs
// pre-trains first.

#include "trainer/tasks/pretrain/pretrainer.h"

#include <ATen/Functions.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/model/token_embedding.h"
#include "tests/trainer/test_util.h"
#include "trainer/checkpoint/checkpoint.h"
#include "launch/commands.h"
#include "trainer/tasks/graph_classification/model_builder.h"
#include "trainer/inference/predictor.h"
#include "trainer/checkpoint/sharded_checkpoint.h"

namespace autoglm::trainer {
namespace {
using namespace launch;  // the CLI commands (launch/commands.h)
namespace fs = std::filesystem;
using testing::TempDir;

ExperimentConfig pretrainConfig(const std::string& out) {
  ExperimentConfig cfg = testing::smallR8Config(out);
  cfg.train.epochs = 1;
  cfg.pretrain.epochs = 3;
  cfg.pretrain.splits = PretrainSplits::kTrain;
  cfg.pretrain.batch_graphs = 64;
  cfg.pretrain.proj_dim = 16;
  return cfg;
}

at::Tensor embedTable(core::model::GraphClassifier& m) {
  return m->partAs<core::model::TokenEmbedding>("embed")->table().detach().clone();
}

// One pre-training run shared by the tests of this file.
class Pretrain : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("pretrain");
    cfg_ = new ExperimentConfig(pretrainConfig((*dir_ / "run").string()));
    data_ = new core::graph::PreparedData(prepareData(*cfg_));
    Pretrainer p(*cfg_, *data_);
    fresh_ = new core::model::GraphClassifier(
        buildModel(*cfg_, *data_, p.indices(), parallel::ParallelGrid::alone()).model);  // as training would start
    result_ = new PretrainResult(p.run());
    pretrained_embed_ = new at::Tensor(embedTable(p.model()));
    pretrained_ = new core::model::GraphClassifier(p.model());
  }
  static void TearDownTestSuite() {
    delete pretrained_;
    delete pretrained_embed_;
    delete fresh_;
    delete result_;
    delete data_;
    delete cfg_;
    delete dir_;
  }
  static TempDir* dir_;
  static ExperimentConfig* cfg_;
  static core::graph::PreparedData* data_;
  static PretrainResult* result_;
  static core::model::GraphClassifier* fresh_;
  static core::model::GraphClassifier* pretrained_;
  static at::Tensor* pretrained_embed_;
};
TempDir* Pretrain::dir_ = nullptr;
ExperimentConfig* Pretrain::cfg_ = nullptr;
core::graph::PreparedData* Pretrain::data_ = nullptr;
PretrainResult* Pretrain::result_ = nullptr;
core::model::GraphClassifier* Pretrain::fresh_ = nullptr;
core::model::GraphClassifier* Pretrain::pretrained_ = nullptr;
at::Tensor* Pretrain::pretrained_embed_ = nullptr;

TEST_F(Pretrain, LossFallsAndOnlyTheEncoderMoves) {
  ASSERT_EQ(result_->epochs.size(), 3u);
  for (const auto& e : result_->epochs) {
    EXPECT_TRUE(std::isfinite(e.loss));
    EXPECT_GT(e.steps, 0);
    EXPECT_GT(e.graphsPerSecond(), 0.0);
  }
  EXPECT_LT(result_->epochs.back().loss, result_->epochs.front().loss);
  // Chance level of 2B - 1 candidates is log(127); the first epoch already beats it.
  EXPECT_LT(result_->epochs.front().loss, std::log(127.0));
  EXPECT_EQ(result_->steps, result_->epochs[0].steps * 3);
  // Same names and shapes as the classifier training builds; the encoder moved, the head did not.
  const auto a = (*fresh_)->named_parameters(), b = (*pretrained_)->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (const auto& p : a) {
    ASSERT_TRUE(b.contains(p.key())) << p.key();
    const bool same = at::equal(p.value(), b[p.key()]);
    if (p.key().rfind("head.", 0) == 0) {
      EXPECT_TRUE(same) << p.key() << " is the head as initialised";
    } else if (p.key().find("bias") == std::string::npos) {
      EXPECT_FALSE(same) << p.key() << " was not trained";
    }
  }
}

TEST_F(Pretrain, CheckpointIsATrainingCheckpoint) {
  EXPECT_EQ(fs::path(result_->checkpoint).parent_path(), fs::path(Pretrainer::runDir(*cfg_)) / "checkpoints");
  const CheckpointInfo ckpt = openCheckpoint(Pretrainer::runDir(*cfg_), /*prefer_best=*/true);  // via LATEST
  EXPECT_EQ(ckpt.dir, result_->checkpoint);
  EXPECT_EQ(ckpt.vocab_tokens, data_->vocab.tokens());
  EXPECT_EQ(ckpt.label_names, data_->label_names);
  core::model::GraphClassifier loaded = loadClassifier(ckpt, configFromCheckpoint(ckpt, {}));
  EXPECT_TRUE(at::equal(embedTable(loaded), *pretrained_embed_));
  // Exactly the classifier's tensors (no projection head), the head as initialised.
  EXPECT_EQ(loaded->named_parameters().keys(), (*fresh_)->named_parameters().keys());
  EXPECT_TRUE(at::equal(loaded->named_parameters()["head.out.weight"], (*fresh_)->named_parameters()["head.out.weight"]));
  EXPECT_EQ(runEval(result_->checkpoint, {}), 0);
}

TEST_F(Pretrain, InitFromStartsAtThePretrainedParameters) {
  ConfigArgs args;
  args.overrides = {"run.out_dir=" + (*dir_ / "tuned").string(), "train.lr=1e-12", "train.warmup_steps=0",
                    "train.max_steps=1", "pretrain.epochs=0"};
  TrainOptions opts;
  opts.init_from = result_->checkpoint;
  ASSERT_EQ(runTrain(args, opts), 0);
  // A learning rate of 1e-12 leaves the parameters where they started.
  const CheckpointInfo tuned = openCheckpoint((*dir_ / "tuned").string(), /*prefer_best=*/false);
  core::model::GraphClassifier m = loadClassifier(tuned, configFromCheckpoint(tuned, {}));
  EXPECT_TRUE(at::allclose(embedTable(m), *pretrained_embed_, 0.0, 1e-6));
  EXPECT_FALSE(at::allclose(embedTable(*fresh_), *pretrained_embed_, 0.0, 1e-6));
}

TEST_F(Pretrain, TrainWithPretrainEpochsPretrainsFirst) {
  ExperimentConfig cfg = *cfg_;
  cfg.run.out_dir = (*dir_ / "both").string();
  cfg.pretrain.epochs = 1;
  cfg.train.max_steps = 2;
  const std::string yaml = (*dir_ / "both.yaml").string();
  std::ofstream(yaml) << cfg.toYaml();
  ConfigArgs args;
  args.config = yaml;
  ASSERT_EQ(runTrain(args, TrainOptions{}), 0);
  const CheckpointInfo pre = openCheckpoint(Pretrainer::runDir(cfg), /*prefer_best=*/false);
  EXPECT_EQ(checkpointLayout(pre).dp, 1);
  EXPECT_TRUE(fs::exists(fs::path(cfg.run.out_dir) / "checkpoints" / "LATEST"));
  // A second fresh run into the same folder is refused before pre-training.
  EXPECT_THROW(runTrain(args, TrainOptions{}), ConfigError);
}

TEST_F(Pretrain, RefusesParallelLayoutsAndZeroEpochs) {
  ExperimentConfig cfg = *cfg_;
  cfg.parallel.dp = 2;
  try {
    Pretrainer p(cfg, *data_);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("parallel.dp"), std::string::npos) << e.what();
  }
  cfg = *cfg_;
  cfg.pretrain.epochs = 0;
  Pretrainer p(cfg, *data_);
  EXPECT_THROW(p.run(), ConfigError);
}

TEST(PretrainConfig, ReadsTheSectionAndRejectsBadValues) {
  YAML::Node root = YAML::Load("pretrain: {epochs: 2, temperature: 0.5, splits: train, edge_drop: 0.3}");
  const ExperimentConfig cfg = ExperimentConfig::fromYaml(root, "test.yaml");
  EXPECT_EQ(cfg.pretrain.epochs, 2);
  EXPECT_DOUBLE_EQ(cfg.pretrain.temperature, 0.5);
  EXPECT_EQ(cfg.pretrain.splits, PretrainSplits::kTrain);
  EXPECT_DOUBLE_EQ(cfg.pretrain.node_mask, 0.15);
  EXPECT_THROW(ExperimentConfig::fromYaml(YAML::Load("pretrain: {splits: test}"), "t.yaml"), ConfigError);
  EXPECT_THROW(ExperimentConfig::fromYaml(YAML::Load("pretrain: {temperature: 0}"), "t.yaml"), ConfigError);
  EXPECT_THROW(ExperimentConfig::fromYaml(YAML::Load("pretrain: {batch_graphs: 1}"), "t.yaml"), ConfigError);
  EXPECT_THROW(ExperimentConfig::fromYaml(YAML::Load("pretrain: {unknown: 1}"), "t.yaml"), ConfigError);
}

}  // namespace
}  // namespace autoglm::trainer
