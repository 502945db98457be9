// Checkpoints that reshard, at 4 ranks: a run saved at (dp,tp,pp) = (2,2,1)
// loads at (4,1,1), (1,2,2) and on one process (1,1,1) with the same
// validation loss, and training continues from it as the saved run continues
// (dropout off, the same global batch at every layout: parameters and Adam
// moments resliced correctly give the same next steps). `autoglm eval`'s path
// (the whole model from a sharded checkpoint, on one process) gives that loss too.
// Both with the dense embedding update and with train.embedding_update: lazy
// (row-sparse gradients under tp row shards; the lazy optimizer's moments
// resliced like dense ones).

#include <ATen/Functions.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <tuple>

#include "comm/communicator.h"
#include "parallel/process_grid.h"
#include "tests/trainer/test_util.h"
#include "tests/mpi_test_main.h"
#include "trainer/tasks/graph_classification/classifier_trainer.h"

namespace autoglm::trainer {
namespace {
namespace fs = std::filesystem;

using Layout = std::tuple<int, int, int>;  // dp, tp, pp
constexpr int kGlobalBatch = 48;

ExperimentConfig reshardConfig(const std::string& out, const Layout& l, EmbeddingUpdate update) {
  ExperimentConfig cfg = testing::smallShardableConfig(out);
  cfg.train.embedding_update = update;
  cfg.train.patience = 0;
  cfg.train.checkpoint_every = 3;
  std::tie(cfg.parallel.dp, cfg.parallel.tp, cfg.parallel.pp) = l;
  cfg.train.batch_graphs = kGlobalBatch / cfg.parallel.dp;
  cfg.parallel.pipeline.micro_batches = 2;
  return cfg;
}

// A folder every rank names the same (world rank 0's choice).
std::string sharedDir(comm::Communicator& world, const std::string& tag) {
  at::Tensor pid = at::tensor(std::vector<int64_t>{static_cast<int64_t>(::getpid())}, at::kLong);
  world.broadcast(pid, {0})->wait();
  const fs::path dir = fs::temp_directory_path() / ("autoglm_" + tag + "_" + std::to_string(pid.item<int64_t>()));
  if (world.rank() == 0) {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  world.barrier({})->wait();
  return dir.string();
}

struct Trained {
  double val_loss_at_save = 0.0;
  double val_loss_after = 0.0;  // after continuing to step 5
};

// ClassifierTrainer at `l` on the first dp*tp*pp ranks of the world (the rest wait).
std::unique_ptr<ClassifierTrainer> trainerAt(const ExperimentConfig& cfg, const core::graph::PreparedData& data,
                                   const std::shared_ptr<comm::Communicator>& world) {
  if (cfg.parallel.dp * cfg.parallel.tp * cfg.parallel.pp == 1) return std::make_unique<ClassifierTrainer>(cfg, data);
  parallel::ParallelGrid grid(world, cfg.parallel);
  return std::make_unique<ClassifierTrainer>(cfg, data, grid);
}

class Reshard : public ::testing::TestWithParam<EmbeddingUpdate> {};

TEST_P(Reshard, CheckpointAtOneLayoutLoadsAndContinuesAtAnother) {
  auto world = test::worldComm();
  ASSERT_EQ(world->size(), 4) << "run at 4 ranks";
  const EmbeddingUpdate update = GetParam();
  const std::string root = sharedDir(*world, std::string("reshard_") + core::enumName(update));
  const Layout saved_at{2, 2, 1};

  // The run that is saved at step 3 and continues to step 5.
  ExperimentConfig cfg = reshardConfig(root + "/saved", saved_at, update);
  const core::graph::PreparedData data = prepareData(cfg);
  Trained want;
  {
    cfg.train.max_steps = 3;
    auto t = trainerAt(cfg, data, world);
    t->fit(false);
    want.val_loss_at_save = t->evaluate(EvalSplit::kValidation).loss;
    if (world->rank() == 0) fs::copy(root + "/saved", root + "/pristine", fs::copy_options::recursive);
    world->barrier({})->wait();
    cfg.train.max_steps = 5;
    auto cont = trainerAt(cfg, data, world);
    cont->fit(true);
    want.val_loss_after = cont->evaluate(EvalSplit::kValidation).loss;
  }
  ASSERT_TRUE(std::isfinite(want.val_loss_at_save));
  ASSERT_NE(want.val_loss_at_save, want.val_loss_after) << "training did not move: the check would be vacuous";

  for (const Layout& l : {Layout{4, 1, 1}, Layout{1, 2, 2}, Layout{1, 1, 1}}) {
    const auto [dp, tp, pp] = l;
    const std::string what = "loaded at (" + std::to_string(dp) + "," + std::to_string(tp) + "," +
                             std::to_string(pp) + ")";
    const std::string out = root + "/at" + std::to_string(dp) + std::to_string(tp) + std::to_string(pp);
    if (world->rank() == 0) fs::copy(root + "/pristine", out, fs::copy_options::recursive);
    world->barrier({})->wait();
    if (dp * tp * pp == world->size() || world->rank() == 0) {
      ExperimentConfig c = reshardConfig(out, l, update);
      auto t = trainerAt(c, data, world);
      t->resumeFromNewest();
      EXPECT_EQ(t->globalStep(), 3) << what;
      EXPECT_NEAR(t->evaluate(EvalSplit::kValidation).loss, want.val_loss_at_save, 1e-6) << what;
      c.train.max_steps = 5;
      auto cont = trainerAt(c, data, world);
      EXPECT_EQ(cont->fit(true).steps, 5) << what;
      EXPECT_NEAR(cont->evaluate(EvalSplit::kValidation).loss, want.val_loss_after, 1e-5 * want.val_loss_after)
          << what << ": training from the resliced checkpoint went elsewhere";
    }
    world->barrier({})->wait();
  }

  // What `autoglm eval` and `predict` do: the whole model on one process.
  if (world->rank() == 0) {
    const CheckpointInfo ckpt = openCheckpoint(root + "/pristine", /*prefer_best=*/false);
    EXPECT_EQ(checkpointLayout(ckpt).str(), "(dp,tp,pp)=(2,2,1) compression none");
    core::model::GraphClassifier model(cfg.model, static_cast<int64_t>(ckpt.vocab_tokens.size()),
                                       static_cast<int64_t>(ckpt.label_names.size()));
    loadShardedModel(ckpt, *model, nullptr);
    model->eval();
    ExperimentConfig one = reshardConfig(root + "/unused", {1, 1, 1}, update);
    ClassifierTrainer indices(one, data);
    Evaluator evaluator(model, one.train.eval_batch_graphs);
    // The validation split is the trainer's (carved from the training documents).
    EXPECT_NEAR(evaluator.evaluate(data.store, indices.validationIndices()).loss, want.val_loss_at_save, 1e-6);
    fs::remove_all(root);
  }
  world->barrier({})->wait();
}

INSTANTIATE_TEST_SUITE_P(EmbeddingUpdates, Reshard, ::testing::Values(EmbeddingUpdate::kDense, EmbeddingUpdate::kLazy),
                         [](const auto& info) { return std::string(core::enumName(info.param)); });

}  // namespace
}  // namespace autoglm::trainer
