// Checkpoint folders under faults: resume takes the newest step that verifies
// (not what LATEST names), a manifest cannot name files outside its folder nor
// leave files unverified, and replacing best/ without RENAME_EXCHANGE (NFS,
// Lustre) never loses it, whichever step a crash interrupts.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "core/error.h"
#include "core/file_io.h"
#include "tests/trainer/test_util.h"
#include "trainer/checkpoint/checkpoint.h"
#include "trainer/tasks/graph_classification/classifier_trainer.h"

namespace autoglm::trainer {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;

CheckpointPayload payload(int version) {
  CheckpointPayload p;
  p.vocab_tokens = {"a", "b"};
  p.label_names = {"x", "y"};
  p.state = {{"version", version}};
  p.extra_files.emplace_back("rank-00000.pt", "rank state " + std::to_string(version));
  return p;
}

int versionOf(const std::string& dir) { return openCheckpoint(dir, /*prefer_best=*/true).state.at("version"); }

nlohmann::json readJson(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

void writeJson(const fs::path& p, const nlohmann::json& j) { std::ofstream(p) << j.dump(2); }

std::string messageOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const CheckpointError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(CheckpointFaults, ResumeTakesTheNewestStepThatVerifiesNotLatest) {
  TempDir d("newest");
  CheckpointManager m((d / "checkpoints").string(), 5);
  for (const char* name : {"step-00000001", "step-00000002", "step-00000003"}) m.save(name, payload(1));
  core::replaceFileAtomic((d / "checkpoints" / "LATEST").string(), "step-00000001\n");  // a stale pointer
  ASSERT_FALSE(m.resumeCandidates().empty());
  EXPECT_EQ(fs::path(m.resumeCandidates().front()).filename(), "step-00000003");

  // Through the loop: a run checkpointed at every step, LATEST pointing back.
  TempDir r("newestrun");
  ExperimentConfig cfg = testing::smallR8Config(r.str());
  cfg.train.batch_graphs = 1024;
  cfg.train.max_steps = 4;
  cfg.train.checkpoint_every = 1;
  const core::graph::PreparedData data = prepareData(cfg);
  {
    ClassifierTrainer t(cfg, data);
    t.fit(false);
  }
  core::replaceFileAtomic((r / "checkpoints" / "LATEST").string(), "step-00000002\n");
  ClassifierTrainer resumed(cfg, data);
  resumed.resumeFromNewest();
  EXPECT_EQ(resumed.globalStep(), 4);
}

TEST(CheckpointFaults, ManifestNamesThatLeaveTheFolderAreRefused) {
  TempDir d("escape");
  CheckpointManager m((d / "checkpoints").string(), 5);
  const std::string dir = m.save("step-00000001", payload(1));
  std::ofstream(d / "checkpoints" / "secret") << "outside";
  const nlohmann::json good = readJson(fs::path(dir) / "MANIFEST.json");
  for (const std::string bad : {"../secret", "/etc/hostname", "..", "sub/../../secret", ""}) {
    nlohmann::json j = good;
    j["files"][bad] = {{"bytes", 7}, {"crc32", 0}};
    writeJson(fs::path(dir) / "MANIFEST.json", j);
    const std::string msg = messageOf([&] { openCheckpoint(dir, false); });
    EXPECT_NE(msg.find("file name '" + bad + "' is not a plain name inside the checkpoint folder"), std::string::npos)
        << bad << ": " << msg;
  }
  writeJson(fs::path(dir) / "MANIFEST.json", good);
  const CheckpointInfo info = openCheckpoint(dir, false);
  EXPECT_NE(messageOf([&] { readCheckpointFile(info, "../secret"); }).find("not a file name inside"), std::string::npos);
  // LATEST is a name too.
  core::replaceFileAtomic((d / "checkpoints" / "LATEST").string(), "../../etc\n");
  EXPECT_NE(messageOf([&] { openCheckpoint(d.str(), false); }).find("is not a checkpoint name"), std::string::npos);
}

TEST(CheckpointFaults, FilesTheManifestOmitsAreNeverRead) {
  TempDir d("omitted");
  CheckpointManager m((d / "checkpoints").string(), 5);
  const std::string dir = m.save("step-00000001", payload(1));
  nlohmann::json j = readJson(fs::path(dir) / "MANIFEST.json");
  j["files"].erase("rank-00000.pt");
  writeJson(fs::path(dir) / "MANIFEST.json", j);
  const CheckpointInfo info = openCheckpoint(dir, false);  // what it lists verifies
  const std::string msg = messageOf([&] { readCheckpointFile(info, "rank-00000.pt"); });
  EXPECT_NE(msg.find(dir + "/rank-00000.pt: not listed in MANIFEST.json"), std::string::npos) << msg;
  // One the loader needs itself: the checkpoint does not open.
  j["files"].erase("state.json");
  writeJson(fs::path(dir) / "MANIFEST.json", j);
  EXPECT_NE(messageOf([&] { openCheckpoint(dir, false); }).find("state.json: not listed in MANIFEST.json"),
            std::string::npos);
}

TEST(CheckpointFaults, AFileChangedAfterOpeningFailsAsItIsRead) {
  TempDir d("changed");
  CheckpointManager m((d / "checkpoints").string(), 5);
  const std::string dir = m.save("step-00000001", payload(1));
  const CheckpointInfo info = openCheckpoint(dir, false);
  std::ofstream(fs::path(dir) / "rank-00000.pt") << "rank state 9";  // same size, other bytes
  const std::string msg = messageOf([&] { readCheckpointFile(info, "rank-00000.pt"); });
  EXPECT_NE(msg.find("rank-00000.pt: checksum mismatch"), std::string::npos) << msg;
}

// A crash (a hook that throws, so nothing cleans up) at each step of the
// two-rename fallback leaves best/ readable, and start-up repairs the folder.
TEST(CheckpointFaults, BestSurvivesACrashBetweenTheTwoRenames) {
  for (const std::string crash_at : {"old-aside", "new-in-place"}) {
    TempDir d("best" + crash_at);
    const std::string ck = (d / "checkpoints").string();
    {
      CheckpointManager m(ck, 5, {true, nullptr});
      m.save("best", payload(1));
    }
    CheckpointFaults faults{true, [&](const std::string& step) {
                              if (step == crash_at) throw std::runtime_error("injected crash at " + step);
                            }};
    {
      CheckpointManager m(ck, 5, faults);
      EXPECT_THROW(m.save("best", payload(2)), std::runtime_error) << crash_at;
    }
    // Before any repair, a reader finds a complete best checkpoint.
    const int seen = versionOf(d.str());
    EXPECT_EQ(seen, crash_at == "old-aside" ? 1 : 2) << crash_at;
    // Start-up repairs: best/ is back, no .old left, and saving works again.
    CheckpointManager m(ck, 5, {true, nullptr});
    EXPECT_TRUE(fs::exists(fs::path(ck) / "best" / "MANIFEST.json")) << crash_at;
    EXPECT_FALSE(fs::exists(fs::path(ck) / "best.old")) << crash_at;
    EXPECT_EQ(versionOf((fs::path(ck) / "best").string()), seen);
    m.save("best", payload(3));
    EXPECT_EQ(versionOf(d.str()), 3);
    EXPECT_FALSE(fs::exists(fs::path(ck) / "best.old"));
  }
}

}  // namespace
}  // namespace autoglm::trainer
