#include "trainer/checkpoint/checkpoint.h"

#include <ATen/Functions.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "core/error.h"
#include "tests/trainer/test_util.h"
#include "core/graph/prepared_data.h"
#include "trainer/tasks/graph_classification/classifier_trainer.h"

namespace autoglm::trainer {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;

// Big batches so that a dozen steps cross epoch boundaries (5 batches/epoch),
// with dropout and attention dropout on, so RNG restore matters.
ExperimentConfig resumeConfig(const std::string& out) {
  ExperimentConfig cfg = testing::smallR8Config(out);
  cfg.train.batch_graphs = 1024;
  cfg.train.epochs = 4;
  cfg.train.patience = 0;
  cfg.model.dropout = 0.3;
  cfg.model.attn_dropout = 0.2;
  return cfg;
}

std::vector<at::Tensor> paramsAfter(ClassifierTrainer& t) {
  std::vector<at::Tensor> out;
  for (const auto& p : t.model()->parameters()) out.push_back(p.detach().clone());
  return out;
}

// 12 steps straight against 7, a resume, and 5 more: the parameters agree.
void expectResumeMatchesUninterrupted(const std::function<void(ExperimentConfig&)>& adjust) {
  TempDir a("resumeA"), b("resumeB");
  ExperimentConfig ca = resumeConfig(a.str());
  adjust(ca);
  ca.train.max_steps = 12;
  core::graph::PreparedData data = prepareData(ca);
  ClassifierTrainer full(ca, data);
  full.fit(false);
  ASSERT_EQ(full.globalStep(), 12);
  auto expected = paramsAfter(full);

  ExperimentConfig cb = resumeConfig(b.str());
  adjust(cb);
  cb.train.max_steps = 7;  // stops mid-epoch 2, after one end-of-epoch evaluation
  {
    ClassifierTrainer first(cb, data);
    first.fit(false);
    ASSERT_EQ(first.globalStep(), 7);
    // Not yet equal: the test would be vacuous otherwise.
    auto partial = paramsAfter(first);
    bool all_equal = true;
    for (size_t i = 0; i < partial.size(); ++i) all_equal &= at::equal(partial[i], expected[i]);
    EXPECT_FALSE(all_equal);
  }
  cb.train.max_steps = 12;
  ClassifierTrainer resumed(cb, data);
  resumed.fit(true);
  ASSERT_EQ(resumed.globalStep(), 12);
  auto got = paramsAfter(resumed);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_TRUE(at::allclose(got[i], expected[i], 1e-5, 1e-6))
        << "parameter " << i << " max diff " << (got[i] - expected[i]).abs().max().item<double>();
  }
}

TEST(Checkpoint, ResumeGivesSameParametersAsUninterruptedRun) {
  expectResumeMatchesUninterrupted([](ExperimentConfig&) {});
}

// learned_edge_scale is the model's own parameter, outside every part: it is
// saved, restored and kept as the best model like the parts' parameters.
TEST(Checkpoint, ResumeWithLearnedEdgesRestoresTheModelsOwnParameter) {
  expectResumeMatchesUninterrupted([](ExperimentConfig& c) {
    c.model.layers = 2;
    c.model.learned_edges = 2;
  });
}

// Adagrad's step and sum are saved and restored (a resume with fresh sums
// would take steps of about lr where the uninterrupted run's are smaller).
TEST(Checkpoint, ResumeWithAdagradRestoresItsSums) {
  expectResumeMatchesUninterrupted([](ExperimentConfig& c) { c.train.optimizer = OptimizerKind::kAdagrad; });
}

TEST(Checkpoint, CorruptionIsDetectedAndOldCheckpointsArePruned) {
  TempDir d("corrupt");
  ExperimentConfig cfg = resumeConfig(d.str());
  cfg.train.max_steps = 6;
  cfg.train.checkpoint_every = 1;
  cfg.train.keep_checkpoints = 2;
  core::graph::PreparedData data = prepareData(cfg);
  ClassifierTrainer t(cfg, data);
  t.fit(false);
  int steps = 0;
  for (const auto& e : fs::directory_iterator(d / "checkpoints")) {
    const std::string n = e.path().filename().string();
    EXPECT_EQ(n.find(".tmp."), std::string::npos) << "temporary left behind: " << n;
    if (n.rfind("step-", 0) == 0) ++steps;
  }
  EXPECT_EQ(steps, 2);
  CheckpointInfo info = openCheckpoint(d.str(), /*prefer_best=*/false);
  EXPECT_EQ(info.state["step"].get<int64_t>(), 6);
  EXPECT_EQ(info.label_names.size(), 8u);

  const fs::path model = fs::path(info.dir) / "shard-tp00-pp00.pt";
  {
    std::fstream f(model, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x7f');
  }
  try {
    openCheckpoint(info.dir, false);
    FAIL() << "corrupt checkpoint accepted";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("shard-tp00-pp00.pt: checksum mismatch"), std::string::npos) << e.what();
  }
  EXPECT_THROW(openCheckpoint((d / "nothing-here").string(), false), CheckpointError);

  // A checkpoint of the format before named model parts is refused by name.
  const fs::path manifest = fs::path(info.dir) / "MANIFEST.json";
  std::string text;
  {
    std::ifstream in(manifest);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  const auto at = text.find("autoglm-checkpoint-3");
  ASSERT_NE(at, std::string::npos) << text;
  text.replace(at, std::string("autoglm-checkpoint-3").size(), "autoglm-checkpoint-2");
  std::ofstream(manifest) << text;
  try {
    openCheckpoint(info.dir, false);
    FAIL() << "old format accepted";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("written by an older autoglm"), std::string::npos) << e.what();
  }
}

TEST(Checkpoint, ResumeWithoutCheckpointIsAClearError) {
  TempDir d("noresume");
  ExperimentConfig cfg = resumeConfig(d.str());
  core::graph::PreparedData data = prepareData(cfg);
  ClassifierTrainer t(cfg, data);
  try {
    t.fit(true);
    FAIL() << "resume without checkpoint succeeded";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("no checkpoint exists"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace autoglm::trainer

namespace autoglm::trainer {
namespace {

// A stop request (what SIGINT sets) ends training at a step boundary with a
// checkpoint from which --resume reproduces the uninterrupted run.
TEST(Checkpoint, StopFlagSavesACheckpointThatResumesExactly) {
  TempDir a("stopA"), b("stopB");
  ExperimentConfig ca = resumeConfig(a.str());
  ca.train.max_steps = 9;
  core::graph::PreparedData data = prepareData(ca);
  ClassifierTrainer full(ca, data);
  full.fit(false);
  auto expected = paramsAfter(full);

  ExperimentConfig cb = resumeConfig(b.str());
  cb.train.max_steps = 9;
  std::atomic<bool> stop{false};
  {
    ClassifierTrainer first(cb, data);
    // Asked before each step, as the CLI asks its signal flag: the request
    // arrives after step 4, so step 5 does not start.
    first.setStopRequest([&] {
      if (first.globalStep() == 4) stop = true;
      return stop.load();
    });
    FitResult r = first.fit(false);
    EXPECT_TRUE(r.interrupted);
    EXPECT_EQ(first.globalStep(), 4);
  }
  CheckpointInfo saved = openCheckpoint(b.str(), false);
  EXPECT_EQ(saved.state["step"].get<int64_t>(), 4);
  ClassifierTrainer resumed(cb, data);
  FitResult r = resumed.fit(true);
  EXPECT_FALSE(r.interrupted);
  ASSERT_EQ(resumed.globalStep(), 9);
  auto got = paramsAfter(resumed);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(at::allclose(got[i], expected[i], 1e-5, 1e-6)) << i;
}

}  // namespace
}  // namespace autoglm::trainer

namespace autoglm::trainer {
namespace {

// Damages a file of a checkpoint: flips a byte, or cuts it to half its size.
void damage(const fs::path& file, bool truncate) {
  if (truncate) {
    fs::resize_file(file, fs::file_size(file) / 2);
    return;
  }
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(40);
  f.put('\x5a');
}

TEST(Checkpoint, ResumeFallsBackPastCorruptAndTruncatedNewest) {
  TempDir a("fallbackA"), b("fallbackB");
  ExperimentConfig ca = resumeConfig(a.str());
  ca.train.max_steps = 7;
  const core::graph::PreparedData data = prepareData(ca);
  ClassifierTrainer full(ca, data);
  full.fit(false);
  const auto expected = paramsAfter(full);

  ExperimentConfig cb = resumeConfig(b.str());
  cb.train.max_steps = 6;
  cb.train.checkpoint_every = 1;
  cb.train.keep_checkpoints = 3;
  {
    ClassifierTrainer first(cb, data);
    first.fit(false);
  }
  const fs::path ck = fs::path(b.str()) / "checkpoints";
  damage(ck / "step-00000006" / "shard-tp00-pp00.pt", /*truncate=*/false);      // newest: corrupt
  damage(ck / "step-00000005" / "rank-00000.pt", /*truncate=*/true);   // next: truncated
  cb.train.max_steps = 7;
  ClassifierTrainer resumed(cb, data);
  resumed.fit(true);  // from step 4, the newest that verifies
  EXPECT_EQ(resumed.globalStep(), 7);
  const auto got = paramsAfter(resumed);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(at::allclose(got[i], expected[i], 1e-5, 1e-6)) << i;

  // Nothing verifies: one error that says so.
  for (const auto& e : fs::directory_iterator(ck)) {
    if (e.is_directory() && e.path().filename().string().rfind("step-", 0) == 0) damage(e.path() / "state.json", true);
  }
  ClassifierTrainer none(cb, data);
  try {
    none.fit(true);
    FAIL() << "resumed from a damaged checkpoint";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("found no checkpoint that verifies"), std::string::npos) << e.what();
  }
}

TEST(Checkpoint, FreshRunIntoAUsedOutDirIsRefusedUnlessOverwrite) {
  TempDir d("usedout");
  ExperimentConfig cfg = resumeConfig(d.str());
  cfg.train.max_steps = 2;
  const core::graph::PreparedData data = prepareData(cfg);
  {
    ClassifierTrainer first(cfg, data);
    first.fit(false);
  }
  ClassifierTrainer again(cfg, data);
  try {
    again.fit(false);
    FAIL() << "a fresh run replaced an earlier run's checkpoints";
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("run.out_dir=" + d.str() + " already holds checkpoints"), std::string::npos) << m;
    EXPECT_NE(m.find("step-00000002"), std::string::npos) << m;
    EXPECT_NE(m.find("--resume"), std::string::npos) << m;
    EXPECT_NE(m.find("--overwrite"), std::string::npos) << m;
  }
  ClassifierTrainer over(cfg, data);
  EXPECT_EQ(over.fit(false, /*overwrite=*/true).steps, 2);
}

// Pruning keeps the newest `keep` step checkpoints, but never the one just
// written, the one LATEST names, or best/ (an older run's higher step numbers
// in the folder must not make the new checkpoint disappear).
TEST(Checkpoint, PruningNeverRemovesWhatWasJustWrittenLatestOrBest) {
  TempDir d("prune");
  CheckpointManager m((d / "checkpoints").string(), 2);
  CheckpointPayload p;
  p.vocab_tokens = {"a", "b"};
  p.label_names = {"x", "y"};
  p.state = nlohmann::json::object();
  m.save("best", p);
  fs::create_directories(d / "checkpoints" / "step-00000099");  // an older run's
  for (const char* name : {"step-00000001", "step-00000002", "step-00000003"}) m.save(name, p);
  EXPECT_TRUE(fs::exists(d / "checkpoints" / "step-00000003"));
  EXPECT_TRUE(fs::exists(d / "checkpoints" / "best"));
  EXPECT_FALSE(fs::exists(d / "checkpoints" / "step-00000001"));
  EXPECT_FALSE(fs::exists(d / "checkpoints" / "step-00000002"));
  ASSERT_TRUE(m.latest().has_value());
  EXPECT_TRUE(fs::exists(*m.latest())) << *m.latest();
  EXPECT_EQ(fs::path(*m.latest()).filename(), "step-00000003");
  // Newest step first: the older run's empty step-99 (which does not verify), then ours.
  ASSERT_GE(m.resumeCandidates().size(), 2u);
  EXPECT_EQ(fs::path(m.resumeCandidates()[0]).filename(), "step-00000099");
  EXPECT_EQ(m.resumeCandidates()[1], *m.latest());
  // Saving a name again replaces it in one step and leaves nothing behind.
  m.save("step-00000003", p);
  for (const auto& e : fs::directory_iterator(d / "checkpoints")) {
    const std::string n = e.path().filename().string();
    EXPECT_EQ(n.find(".tmp."), std::string::npos) << n;
    EXPECT_EQ(n.find(".old."), std::string::npos) << n;
  }
  EXPECT_NO_THROW(openCheckpoint((d / "checkpoints" / "step-00000003").string(), false));
}

}  // namespace
}  // namespace autoglm::trainer
