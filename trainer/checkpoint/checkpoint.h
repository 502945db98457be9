#pragma once
// Checkpoints: a directory per checkpoint under <run.out_dir>/checkpoints/,
//   shard-tpXX-ppYY.pt     - parameters and Adam moments one model shard owns
//   layout.json            - the layout written at; each tensor's global shape
//                            and the slice each shard file holds
//   rank-NNNNN.pt          - each rank's RNG and compressor state
//   state.json             - step, epoch, position, best metric, ...
//   vocab.txt, labels.txt  - text mapping, so eval/predict map text the same way
//   config.yaml            - the resolved experiment config
//   MANIFEST.json          - size and CRC-32 of every file above
// (sharded_checkpoint.h writes and reads the model files.) Saving writes into a
// staging directory, fsyncs every file and the folder, then moves it into place
// in one step (a new name: rename; an existing name: an atomic exchange with
// the old one, which is then removed), and replaces the LATEST pointer
// atomically, so a crash never leaves a partial checkpoint that looks complete
// nor loses the previous one. Where the file system cannot exchange (NFS,
// Lustre) the old folder is first renamed to <name>.old, which readers take
// while <name> is missing and which start-up (CheckpointManager's constructor)
// moves back, so a crash between the two renames never loses best/. Pruning
// never removes the checkpoint just written, the one LATEST names, or best/.
// Loading verifies the manifest first: its file names must be plain names
// inside the folder, and every file read must be listed and match its size and
// CRC-32. Resuming takes the newest step checkpoint that verifies (LATEST is
// only a pointer for people and tools; a newer complete one wins).

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include "comm/communicator.h"

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace autoglm::trainer {

// What the committing process writes itself.
struct CheckpointPayload {
  nlohmann::json state;
  std::vector<std::string> vocab_tokens;
  std::vector<std::string> label_names;
  std::string config_yaml;
  // More files by name ("layout.json", "rank-00001.pt"), written and
  // checksummed with the rest.
  std::vector<std::pair<std::string, std::string>> extra_files;
};

// Test seams of CheckpointManager: what a file system without RENAME_EXCHANGE
// does, and a crash between the steps of replacing a name.
struct CheckpointFaults {
  bool no_exchange = false;
  // Called with "old-aside" (the old folder renamed to <name>.old) and
  // "new-in-place" (the new one renamed to <name>, the old not yet removed);
  // a hook that throws stands for a crash there (nothing is cleaned up).
  std::function<void(const std::string& step)> at;
};

class CheckpointManager {
 public:
  // dir: <run.out_dir>/checkpoints; keep: how many step-* checkpoints to keep.
  // Recovers a name a crash left half replaced (<name>.old without <name>).
  CheckpointManager(std::string dir, int64_t keep, CheckpointFaults faults = {});

  // Saves as <dir>/<name> ("step-00000120" or "best"); step-* names update
  // LATEST. save() is prepare() then commit(); with several writers, prepare()
  // on one process, the others write into stagingDir(name), then commit() on
  // the first with what they wrote.
  std::string save(const std::string& name, const CheckpointPayload& payload);
  std::string stagingDir(const std::string& name) const;
  void prepare(const std::string& name);
  // written_elsewhere: {file: {"bytes": n, "crc32": c, "rank": r}} of files
  // other processes put into the staging directory; each must be there, as
  // they wrote it. Removes the staging directory when it throws.
  std::string commit(const std::string& name, const CheckpointPayload& payload,
                     const nlohmann::json& written_elsewhere = nlohmann::json::object());
  void discard(const std::string& name);
  // Directory LATEST names, if any.
  std::optional<std::string> latest() const;
  // Step checkpoint folders to resume from, newest step first (the caller
  // takes the first that verifies).
  std::vector<std::string> resumeCandidates() const;
  // Names of what a run left here (step-* folders and best), sorted.
  std::vector<std::string> existing() const;
  // Removes every checkpoint and LATEST (train --overwrite).
  void clear();
  const std::string& dir() const { return dir_; }

 private:
  void prune(const std::string& just_written);
  void replace(const std::string& tmp, const std::string& final_dir, const std::string& name);
  void recover();
  std::string dir_;
  int64_t keep_;
  CheckpointFaults faults_;
};

struct CheckpointInfo {
  std::string dir;
  nlohmann::json state;
  std::vector<std::string> vocab_tokens;
  std::vector<std::string> label_names;
  std::string config_yaml;
  // MANIFEST.json's "files": {name: {"bytes": n, "crc32": c}}; what may be read.
  nlohmann::json files = nlohmann::json::object();
};

// What a rank that cannot see the folder needs of an opened checkpoint (all of
// CheckpointInfo), as JSON to send, and back.
nlohmann::json checkpointInfoJson(const CheckpointInfo& info);
CheckpointInfo checkpointInfoFromJson(const nlohmann::json& j);
// The checkpoint world rank 0 opened (on_root; or its `error`) on every rank of
// `world`, sent as JSON, so that the others need not see its disk. Collective;
// throws CheckpointError naming rank 0 on every rank when it has none.
CheckpointInfo checkpointFromRoot(comm::Communicator& world, const std::optional<CheckpointInfo>& on_root,
                                  const std::string& error);

// A manifest's (or LATEST's) file name is one plain component: not empty, no
// '/' or '\\', not "." or "..", no NUL; anything else could leave the folder.
bool isPlainFileName(const std::string& name);

// Accepts a checkpoint directory, or a run directory (then its best checkpoint
// when prefer_best, else the latest). Verifies the manifest. Throws CheckpointError.
CheckpointInfo openCheckpoint(const std::string& path, bool prefer_best);
// State of LibTorch's default CPU generator (dropout masks, shuffles), taken and
// set under its lock.
at::Tensor cpuRngState();
void setCpuRngState(const at::Tensor& state);
// Bytes of one file of the checkpoint, checked against the manifest as read.
// Throws CheckpointError naming the file when the manifest does not list it, it
// is missing, or its size or CRC-32 differ.
std::string readCheckpointFile(const CheckpointInfo& ckpt, const std::string& name);
// Size and CRC-32 of a file (as MANIFEST.json lists them), read in blocks.
// Throws CheckpointError when it cannot be read.
std::pair<uint64_t, uint32_t> fileSizeAndCrc32(const std::string& path);

// The path of a file of the checkpoint after checking it as readCheckpointFile
// does, in blocks (for files read by another reader, the shard archives).
std::string verifiedCheckpointPath(const CheckpointInfo& ckpt, const std::string& name);

}  // namespace autoglm::trainer
