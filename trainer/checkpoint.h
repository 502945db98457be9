#pragma once
// Checkpoints: a directory per checkpoint under <run.out_dir>/checkpoints/,
//   model.pt, optimizer.pt, rng.pt  - LibTorch archives
//   state.json                      - step, epoch, position, best metric, ...
//   vocab.txt, labels.txt           - text mapping, so eval/predict map text the same way
//   config.yaml                     - the resolved experiment config
//   MANIFEST.json                   - size and CRC-32 of every file above
// Saving writes into a temporary directory, fsyncs every file and the folder,
// then moves it into place in one step (a new name: rename; an existing name:
// an atomic exchange with the old one, which is then removed), and replaces the
// LATEST pointer atomically, so a crash never leaves a partial checkpoint that
// looks complete nor loses the previous one. Pruning never removes the
// checkpoint just written, the one LATEST names, or best/. Loading verifies
// the manifest first; resuming takes the newest checkpoint that verifies.

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace torch::nn {
class Module;
}
namespace torch::optim {
class Optimizer;
}

namespace autoglm::trainer {

struct CheckpointPayload {
  torch::nn::Module* model = nullptr;
  torch::optim::Optimizer* optimizer = nullptr;  // may be null (model-only)
  bool save_rng = true;
  nlohmann::json state;
  std::vector<std::string> vocab_tokens;
  std::vector<std::string> label_names;
  std::string config_yaml;
  // More files by name (e.g. "rank-00001.pt": one data-parallel rank's RNG and
  // compressor state), written and checksummed with the rest.
  std::vector<std::pair<std::string, std::string>> extra_files;
};

class CheckpointManager {
 public:
  // dir: <run.out_dir>/checkpoints; keep: how many step-* checkpoints to keep.
  CheckpointManager(std::string dir, int64_t keep);

  // Saves as <dir>/<name> ("step-00000120" or "best"); step-* names update LATEST.
  std::string save(const std::string& name, const CheckpointPayload& payload);
  // Directory LATEST names, if any.
  std::optional<std::string> latest() const;
  // Step checkpoint folders to resume from, best first: the one LATEST names,
  // then the others by decreasing step.
  std::vector<std::string> resumeCandidates() const;
  // Names of what a run left here (step-* folders and best), sorted.
  std::vector<std::string> existing() const;
  // Removes every checkpoint and LATEST (train --overwrite).
  void clear();
  const std::string& dir() const { return dir_; }

 private:
  void prune(const std::string& just_written);
  std::string dir_;
  int64_t keep_;
};

struct CheckpointInfo {
  std::string dir;
  nlohmann::json state;
  std::vector<std::string> vocab_tokens;
  std::vector<std::string> label_names;
  std::string config_yaml;
};

// Accepts a checkpoint directory, or a run directory (then its best checkpoint
// when prefer_best, else the latest). Verifies the manifest. Throws CheckpointError.
CheckpointInfo openCheckpoint(const std::string& path, bool prefer_best);
void loadModel(const CheckpointInfo& ckpt, torch::nn::Module& model);
void loadOptimizer(const CheckpointInfo& ckpt, torch::optim::Optimizer& optimizer);
void restoreRng(const CheckpointInfo& ckpt);
// State of LibTorch's default CPU generator (dropout masks, shuffles), taken and
// set under its lock.
at::Tensor cpuRngState();
void setCpuRngState(const at::Tensor& state);
// Bytes of one file of the checkpoint (checked by the manifest when opened).
// Throws CheckpointError naming the file when it is missing.
std::string readCheckpointFile(const CheckpointInfo& ckpt, const std::string& name);

}  // namespace autoglm::trainer
