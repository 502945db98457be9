#include "trainer/checkpoint/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Generator.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "core/error.h"
#include "core/file_io.h"
#include "core/hash.h"
#include "core/log.h"

namespace autoglm::trainer {
namespace fs = std::filesystem;

namespace {

// Version 2: parameters named "<part>.<name>" (core/model/graph_classifier.h).
// Version 3: the model in shard files with layout.json (sharded_checkpoint.h).
constexpr const char* kFormat = "autoglm-checkpoint-3";

std::string readFile(const fs::path& p) {
  std::optional<std::string> bytes = core::readFileBytes(p.string());
  if (!bytes) throw CheckpointError(p.string() + ": cannot read");
  return std::move(*bytes);
}

void writeFile(const fs::path& p, const std::string& data) {
  try {
    core::writeFileDurable(p.string(), data);
  } catch (const std::system_error& e) {
    throw CheckpointError(p.string() + ": write failed (" + e.code().message() + "; disk full?)");
  }
}

bool isStepName(const std::string& n) {
  return n.rfind("step-", 0) == 0 && n.find(".tmp.") == std::string::npos && n.find(".old.") == std::string::npos;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

CheckpointManager::CheckpointManager(std::string dir, int64_t keep) : dir_(std::move(dir)), keep_(keep) {
  fs::create_directories(dir_);
}

std::string CheckpointManager::stagingDir(const std::string& name) const {
  // One name for every process (they differ in pid); ".tmp." keeps it out of existing().
  return (fs::path(dir_) / (name + ".tmp.partial")).string();
}

void CheckpointManager::prepare(const std::string& name) {
  const fs::path tmp = stagingDir(name);
  try {
    fs::remove_all(tmp);
    fs::create_directories(tmp);
    core::fsyncPath(dir_);
  } catch (const std::system_error& e) {
    throw CheckpointError("preparing checkpoint " + tmp.string() + ": " + e.what());
  }
}

void CheckpointManager::discard(const std::string& name) {
  std::error_code ec;
  fs::remove_all(stagingDir(name), ec);
}

std::string CheckpointManager::save(const std::string& name, const CheckpointPayload& p) {
  prepare(name);
  return commit(name, p);
}

namespace {

// Manifest of every file in `tmp`; files others wrote must match what they reported.
nlohmann::json buildManifest(const fs::path& tmp, const nlohmann::json& elsewhere) {
  nlohmann::json manifest;
  manifest["format"] = kFormat;
  for (const auto& [file, meta] : elsewhere.items()) {
    if (!fs::exists(tmp / file)) {
      throw CheckpointError((tmp / file).string() + ", written by world rank " + std::to_string(meta.value("rank", -1)) +
                            ", is not visible to world rank 0: with tp or pp above 1 every rank writes its own "
                            "shard, so run.out_dir must be on a file system all hosts share");
    }
  }
  for (const auto& entry : fs::directory_iterator(tmp)) {
    const std::string file = entry.path().filename().string();
    const std::string data = readFile(entry.path());
    const uint32_t crc = core::crc32(data.data(), data.size());
    if (elsewhere.contains(file) &&
        (elsewhere[file]["bytes"].get<size_t>() != data.size() || elsewhere[file]["crc32"].get<uint32_t>() != crc)) {
      throw CheckpointError(entry.path().string() + ": differs from what world rank " +
                            std::to_string(elsewhere[file].value("rank", -1)) +
                            " wrote (a file system that is not shared, or not coherent)");
    }
    core::fsyncPath(entry.path().string());  // the LibTorch archives were written without it
    manifest["files"][file] = {{"bytes", data.size()}, {"crc32", crc}};
  }
  return manifest;
}

}  // namespace

std::string CheckpointManager::commit(const std::string& name, const CheckpointPayload& p,
                                      const nlohmann::json& elsewhere) {
  const fs::path final_dir = fs::path(dir_) / name;
  const fs::path tmp = stagingDir(name);
  try {
    writeFile(tmp / "state.json", p.state.dump(2));
    writeFile(tmp / "vocab.txt", core::joinLines(p.vocab_tokens));
    writeFile(tmp / "labels.txt", core::joinLines(p.label_names));
    writeFile(tmp / "config.yaml", p.config_yaml);
    for (const auto& [file, bytes] : p.extra_files) writeFile(tmp / file, bytes);
    writeFile(tmp / "MANIFEST.json", buildManifest(tmp, elsewhere).dump(2));
    core::fsyncPath(tmp.string());
    // Into place in one step. An existing checkpoint of that name is exchanged
    // with the new one (then removed), so one of the two is always complete.
    if (!fs::exists(final_dir)) {
      fs::rename(tmp, final_dir);
    } else if (core::exchangePaths(tmp.string(), final_dir.string())) {
      fs::remove_all(tmp);
    } else {
      const fs::path old = fs::path(dir_) / (name + ".old." + std::to_string(::getpid()));
      fs::rename(final_dir, old);
      fs::rename(tmp, final_dir);
      fs::remove_all(old);
    }
    core::fsyncPath(dir_);
  } catch (const CheckpointError&) {
    discard(name);
    throw;
  } catch (const std::system_error& e) {  // std::filesystem errors too
    discard(name);
    throw CheckpointError(std::string("saving checkpoint ") + final_dir.string() + ": " + e.what());
  }
  if (name.rfind("step-", 0) == 0) {
    try {
      core::replaceFileAtomic((fs::path(dir_) / "LATEST").string(), name + "\n");
    } catch (const std::system_error& e) {
      throw CheckpointError(std::string("updating ") + dir_ + "/LATEST: " + e.what());
    }
    prune(name);
  }
  return final_dir.string();
}

std::optional<std::string> CheckpointManager::latest() const {
  const fs::path p = fs::path(dir_) / "LATEST";
  if (!fs::exists(p)) return std::nullopt;
  return (fs::path(dir_) / trimmed(readFile(p))).string();
}

std::vector<std::string> CheckpointManager::existing() const {
  std::vector<std::string> names;
  if (!fs::exists(dir_)) return names;
  for (const auto& e : fs::directory_iterator(dir_)) {
    const std::string n = e.path().filename().string();
    if (e.is_directory() && (isStepName(n) || n == "best")) names.push_back(n);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> CheckpointManager::resumeCandidates() const {
  std::vector<std::string> steps;
  for (const auto& n : existing()) {
    if (n != "best") steps.push_back(n);
  }
  std::sort(steps.rbegin(), steps.rend());  // zero-padded: lexicographic == numeric
  std::vector<std::string> out;
  const auto named = latest();
  if (named) out.push_back(*named);
  for (const auto& n : steps) {
    const std::string path = (fs::path(dir_) / n).string();
    if (!named || path != *named) out.push_back(path);
  }
  return out;
}

void CheckpointManager::clear() {
  for (const auto& n : existing()) fs::remove_all(fs::path(dir_) / n);
  fs::remove(fs::path(dir_) / "LATEST");
}

void CheckpointManager::prune(const std::string& just_written) {
  const auto named = latest();
  const std::string latest_name = named ? fs::path(*named).filename().string() : "";
  std::vector<std::string> removable;
  size_t steps = 0;
  for (const auto& n : existing()) {
    if (n == "best") continue;
    ++steps;
    if (n != just_written && n != latest_name) removable.push_back(n);
  }
  // Oldest first (zero-padded names sort numerically); the protected ones count
  // towards `keep` but are never removed.
  for (size_t i = 0; i < removable.size() && steps > static_cast<size_t>(keep_); ++i, --steps) {
    fs::remove_all(fs::path(dir_) / removable[i]);
  }
}

CheckpointInfo openCheckpoint(const std::string& path, bool prefer_best) {
  fs::path dir(path);
  if (!fs::exists(dir)) throw CheckpointError(path + ": checkpoint not found");
  if (!fs::exists(dir / "MANIFEST.json")) {
    fs::path ck = fs::exists(dir / "checkpoints") ? dir / "checkpoints" : dir;
    std::string latest_name;
    if (fs::exists(ck / "LATEST")) {
      latest_name = readFile(ck / "LATEST");
      while (!latest_name.empty() && (latest_name.back() == '\n' || latest_name.back() == '\r')) latest_name.pop_back();
    }
    if (prefer_best && fs::exists(ck / "best" / "MANIFEST.json")) dir = ck / "best";
    else if (!latest_name.empty()) dir = ck / latest_name;
    else if (fs::exists(ck / "best" / "MANIFEST.json")) dir = ck / "best";
    else throw CheckpointError(path + ": no checkpoint here (no MANIFEST.json, LATEST or best/)");
  }
  nlohmann::json manifest;
  try {
    manifest = nlohmann::json::parse(readFile(dir / "MANIFEST.json"));
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError((dir / "MANIFEST.json").string() + ": unreadable manifest: " + e.what());
  }
  const std::string format = manifest.value("format", "");
  if (format == "autoglm-checkpoint-1") {
    throw CheckpointError((dir / "MANIFEST.json").string() +
                          ": written by an older autoglm (format autoglm-checkpoint-1, before the model's "
                          "parameters were named by part); train again or evaluate it with that version");
  }
  if (format == "autoglm-checkpoint-2") {
    throw CheckpointError((dir / "MANIFEST.json").string() +
                          ": written by an older autoglm (format autoglm-checkpoint-2, before checkpoints were "
                          "sharded by layout); train again or evaluate it with that version");
  }
  if (format != kFormat) {
    throw CheckpointError((dir / "MANIFEST.json").string() + ": unknown checkpoint format '" + format + "'");
  }
  for (const auto& [file, meta] : manifest["files"].items()) {
    const fs::path f = dir / file;
    if (!fs::exists(f)) throw CheckpointError(f.string() + ": missing (listed in MANIFEST.json)");
    const std::string data = readFile(f);
    if (data.size() != meta["bytes"].get<size_t>() ||
        core::crc32(data.data(), data.size()) != meta["crc32"].get<uint32_t>()) {
      throw CheckpointError(f.string() + ": checksum mismatch, checkpoint is corrupt");
    }
  }
  CheckpointInfo info;
  info.dir = dir.string();
  info.state = nlohmann::json::parse(readFile(dir / "state.json"));
  info.vocab_tokens = core::splitLines(readFile(dir / "vocab.txt"));
  info.label_names = core::splitLines(readFile(dir / "labels.txt"));
  info.config_yaml = readFile(dir / "config.yaml");
  return info;
}

at::Tensor cpuRngState() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void setCpuRngState(const at::Tensor& state) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

}  // namespace autoglm::trainer

namespace autoglm::trainer {

std::string readCheckpointFile(const CheckpointInfo& ckpt, const std::string& name) {
  const fs::path p = fs::path(ckpt.dir) / name;
  if (!fs::exists(p)) throw CheckpointError(p.string() + ": missing from the checkpoint");
  return readFile(p);
}

}  // namespace autoglm::trainer
