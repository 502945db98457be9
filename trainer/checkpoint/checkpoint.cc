#include "trainer/checkpoint/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Generator.h>
#include <unistd.h>

#include <boost/crc.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "comm/chunked_bytes.h"
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
  return n.rfind("step-", 0) == 0 && n.find(".tmp.") == std::string::npos && n.find(".old") == std::string::npos;
}

// Where a replaced name's old folder waits until the new one is in place.
constexpr const char* kOldSuffix = ".old";

}  // namespace

std::pair<uint64_t, uint32_t> fileSizeAndCrc32(const std::string& path) {
  const fs::path p(path);
  std::ifstream in(p, std::ios::binary);
  if (!in) throw CheckpointError(p.string() + ": cannot read");
  boost::crc_32_type crc;
  std::vector<char> block(1 << 20);
  uint64_t bytes = 0;
  while (in) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    const auto n = static_cast<size_t>(in.gcount());
    crc.process_bytes(block.data(), n);
    bytes += n;
  }
  if (in.bad()) throw CheckpointError(p.string() + ": read failed");
  return {bytes, crc.checksum()};
}

namespace {

std::pair<uint64_t, uint32_t> sizeAndCrc(const fs::path& p) { return fileSizeAndCrc32(p.string()); }

// The manifest's entry for `name`, or an error naming the file.
const nlohmann::json& listed(const CheckpointInfo& ckpt, const std::string& name) {
  const fs::path p = fs::path(ckpt.dir) / name;
  if (!isPlainFileName(name)) throw CheckpointError(p.string() + ": not a file name inside the checkpoint folder");
  if (!ckpt.files.contains(name)) {
    throw CheckpointError(p.string() + ": not listed in MANIFEST.json, so it cannot be verified; refusing to read it");
  }
  if (!fs::exists(p)) throw CheckpointError(p.string() + ": missing (listed in MANIFEST.json)");
  return ckpt.files.at(name);
}

void checkAgainst(const fs::path& p, const nlohmann::json& meta, uint64_t bytes, uint32_t crc) {
  if (bytes != meta.at("bytes").get<uint64_t>() || crc != meta.at("crc32").get<uint32_t>()) {
    const uint64_t listed_bytes = meta.at("bytes").get<uint64_t>();
    throw CheckpointError(p.string() + ": checksum mismatch, checkpoint is corrupt (" +
                          (bytes != listed_bytes ? std::to_string(bytes) + " bytes, MANIFEST.json lists " +
                                                       std::to_string(listed_bytes)
                                                 : std::string("CRC-32 differs from MANIFEST.json's")) + ")");
  }
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

bool isPlainFileName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find_first_of(std::string("/\\\0", 3)) == std::string::npos;
}

CheckpointManager::CheckpointManager(std::string dir, int64_t keep, CheckpointFaults faults)
    : dir_(std::move(dir)), keep_(keep), faults_(std::move(faults)) {
  fs::create_directories(dir_);
  recover();
}

void CheckpointManager::recover() {
  // Several ranks may do this at once on a shared folder: errors are ignored,
  // what one did the others find done.
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    const std::string n = e.path().filename().string();
    const size_t cut = n.size() - std::string(kOldSuffix).size();
    if (n.size() <= std::string(kOldSuffix).size() || n.compare(cut, std::string::npos, kOldSuffix) != 0) continue;
    const fs::path target = fs::path(dir_) / n.substr(0, cut);
    std::error_code ignored;
    if (fs::exists(target / "MANIFEST.json", ignored)) {
      fs::remove_all(e.path(), ignored);  // the new one made it into place
    } else {
      core::log::warn("{}: a crash interrupted replacing it; restoring the previous one from {}", target.string(),
                      e.path().string());
      fs::remove_all(target, ignored);
      fs::rename(e.path(), target, ignored);
    }
  }
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
    replace(tmp.string(), final_dir.string(), name);
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

void CheckpointManager::replace(const std::string& tmp, const std::string& final_dir, const std::string& name) {
  if (!fs::exists(final_dir)) {
    fs::rename(tmp, final_dir);
  } else if (!faults_.no_exchange && core::exchangePaths(tmp, final_dir)) {
    fs::remove_all(tmp);
  } else {
    // Two renames: the old folder stays complete under <name>.old (readers and
    // recover() take it while <name> is missing) until the new one is in place.
    const fs::path old = fs::path(dir_) / (name + kOldSuffix);
    fs::remove_all(old);  // <name> exists, so this is a leftover
    fs::rename(final_dir, old);
    core::fsyncPath(dir_);
    if (faults_.at) faults_.at("old-aside");
    fs::rename(tmp, final_dir);
    core::fsyncPath(dir_);
    if (faults_.at) faults_.at("new-in-place");
    fs::remove_all(old);
  }
  core::fsyncPath(dir_);
}

std::optional<std::string> CheckpointManager::latest() const {
  const fs::path p = fs::path(dir_) / "LATEST";
  if (!fs::exists(p)) return std::nullopt;
  const std::string name = trimmed(readFile(p));
  if (!isPlainFileName(name)) throw CheckpointError(p.string() + ": '" + name + "' is not a checkpoint name in " + dir_);
  return (fs::path(dir_) / name).string();
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
  for (const auto& n : steps) out.push_back((fs::path(dir_) / n).string());
  return out;
}

void CheckpointManager::clear() {
  for (const auto& n : existing()) fs::remove_all(fs::path(dir_) / n);
  fs::remove(fs::path(dir_) / "LATEST");
}

void CheckpointManager::prune(const std::string& just_written) {
  std::optional<std::string> named;
  try {
    named = latest();
  } catch (const CheckpointError&) {  // a LATEST that names nothing protects nothing
  }
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

namespace {

// The best checkpoint of a checkpoints folder: best/, or best.old/ while a
// crash left best/ replaced halfway (see CheckpointManager::replace).
std::optional<fs::path> bestIn(const fs::path& ck) {
  for (const char* name : {"best", "best.old"}) {
    if (fs::exists(ck / name / "MANIFEST.json")) return ck / name;
  }
  return std::nullopt;
}

// The checkpoint folder `path` names: itself, or the best or latest of a run.
fs::path checkpointDir(const std::string& path, bool prefer_best) {
  const fs::path dir(path);
  if (!fs::exists(dir)) throw CheckpointError(path + ": checkpoint not found");
  if (fs::exists(dir / "MANIFEST.json")) return dir;
  const fs::path ck = fs::exists(dir / "checkpoints") ? dir / "checkpoints" : dir;
  const std::optional<fs::path> best = bestIn(ck);
  if (prefer_best && best) return *best;
  if (fs::exists(ck / "LATEST")) {
    const std::string name = trimmed(readFile(ck / "LATEST"));
    if (!isPlainFileName(name)) {
      throw CheckpointError((ck / "LATEST").string() + ": '" + name + "' is not a checkpoint name in " + ck.string());
    }
    return ck / name;
  }
  if (best) return *best;
  throw CheckpointError(path + ": no checkpoint here (no MANIFEST.json, LATEST or best/)");
}

void checkFormat(const fs::path& where, const std::string& format) {
  if (format == "autoglm-checkpoint-1") {
    throw CheckpointError(where.string() + ": written by an older autoglm (format autoglm-checkpoint-1, before the "
                          "model's parameters were named by part); train again or evaluate it with that version");
  }
  if (format == "autoglm-checkpoint-2") {
    throw CheckpointError(where.string() + ": written by an older autoglm (format autoglm-checkpoint-2, before "
                          "checkpoints were sharded by layout); train again or evaluate it with that version");
  }
  if (format != kFormat) throw CheckpointError(where.string() + ": unknown checkpoint format '" + format + "'");
}

}  // namespace

CheckpointInfo openCheckpoint(const std::string& path, bool prefer_best) {
  const fs::path dir = checkpointDir(path, prefer_best);
  const fs::path where = dir / "MANIFEST.json";
  CheckpointInfo info;
  info.dir = dir.string();
  try {
    const nlohmann::json manifest = nlohmann::json::parse(readFile(where));
    checkFormat(where, manifest.value("format", ""));
    info.files = manifest.at("files");
    if (!info.files.is_object()) throw CheckpointError(where.string() + ": 'files' is not an object");
    for (const auto& [file, meta] : info.files.items()) {
      if (!isPlainFileName(file)) {
        throw CheckpointError(where.string() + ": file name '" + file +
                              "' is not a plain name inside the checkpoint folder; refusing the checkpoint");
      }
      const fs::path f = dir / file;
      if (!fs::exists(f)) throw CheckpointError(f.string() + ": missing (listed in MANIFEST.json)");
      const auto [bytes, crc] = sizeAndCrc(f);
      checkAgainst(f, meta, bytes, crc);
    }
    info.state = nlohmann::json::parse(readCheckpointFile(info, "state.json"));
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(where.string() + ": unreadable manifest or state: " + e.what());
  }
  info.vocab_tokens = core::splitLines(readCheckpointFile(info, "vocab.txt"));
  info.label_names = core::splitLines(readCheckpointFile(info, "labels.txt"));
  info.config_yaml = readCheckpointFile(info, "config.yaml");
  return info;
}

nlohmann::json checkpointInfoJson(const CheckpointInfo& info) {
  return {{"dir", info.dir},       {"state", info.state},        {"vocab", info.vocab_tokens},
          {"labels", info.label_names}, {"config", info.config_yaml}, {"files", info.files}};
}

CheckpointInfo checkpointInfoFromJson(const nlohmann::json& j) {
  CheckpointInfo info;
  try {
    info.dir = j.at("dir");
    info.state = j.at("state");
    info.vocab_tokens = j.at("vocab").get<std::vector<std::string>>();
    info.label_names = j.at("labels").get<std::vector<std::string>>();
    info.config_yaml = j.at("config");
    info.files = j.at("files");
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(std::string("checkpoint description from world rank 0: ") + e.what());
  }
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
  const nlohmann::json& meta = listed(ckpt, name);
  const fs::path p = fs::path(ckpt.dir) / name;
  std::string data = readFile(p);
  try {
    checkAgainst(p, meta, data.size(), core::crc32(data.data(), data.size()));
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(p.string() + ": MANIFEST.json entry unreadable: " + e.what());
  }
  return data;
}

std::string verifiedCheckpointPath(const CheckpointInfo& ckpt, const std::string& name) {
  const nlohmann::json& meta = listed(ckpt, name);
  const fs::path p = fs::path(ckpt.dir) / name;
  const auto [bytes, crc] = sizeAndCrc(p);
  try {
    checkAgainst(p, meta, bytes, crc);
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(p.string() + ": MANIFEST.json entry unreadable: " + e.what());
  }
  return p.string();
}

CheckpointInfo checkpointFromRoot(comm::Communicator& world, const std::optional<CheckpointInfo>& on_root,
                                  const std::string& error) {
  if (world.size() == 1) {
    if (!on_root) throw CheckpointError(error);
    return *on_root;
  }
  const bool root = world.rank() == 0;
  const nlohmann::json mine = root ? (on_root ? checkpointInfoJson(*on_root) : nlohmann::json{{"error", error}})
                                   : nlohmann::json();
  const nlohmann::json got = nlohmann::json::parse(comm::broadcastBytes(world, root ? mine.dump() : "", 0));
  if (got.contains("error")) throw CheckpointError("world rank 0: " + got["error"].get<std::string>());
  return checkpointInfoFromJson(got);
}

}  // namespace autoglm::trainer
