#include "trainer/checkpoint/sharded_checkpoint.h"

#include <spdlog/fmt/fmt.h>
#include <torch/serialize.h>

#include <filesystem>
#include <optional>
#include <sstream>

#include "comm/chunked_bytes.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/hash.h"
#include "trainer/checkpoint/param_state.h"
#include "trainer/checkpoint/rank_state.h"

namespace autoglm::trainer {
namespace fs = std::filesystem;

namespace {

using core::model::GraphClassifierImpl;
using core::model::ParamShard;

struct ShardContents {
  std::string bytes;
  nlohmann::json tensors = nlohmann::json::object();  // name -> [piece]
};

ShardContents shardContents(GraphClassifierImpl& model, torch::optim::Optimizer* opt, bool with_replicated,
                            const std::string& file) {
  torch::serialize::OutputArchive a;
  ShardContents out;
  int i = 0;
  for (const auto& item : model.named_parameters()) {
    const at::Tensor& p = item.value();
    const std::optional<ParamShard> shard = shardOfParam(model, item.key());
    if (!shard && !with_replicated) continue;
    std::vector<int64_t> shape = p.sizes().vec();
    if (shard) shape[static_cast<size_t>(shard->dim)] = shard->full_size;
    const std::string key = "p" + std::to_string(i);
    nlohmann::json piece = {{"file", file}, {"key", key}, {"shape", shape}, {"dim", shard ? shard->dim : -1},
                            {"offset", shard ? shard->offset : 0}, {"length", shard ? p.size(shard->dim) : 0}};
    a.write(key, p.detach());
    if (opt != nullptr) {
      if (const auto m = momentsOf(*opt, p)) {
        piece["step"] = m->step;
        for (const auto& [name, t] : m->tensors) {
          a.write(name + "_" + std::to_string(i), t);
          piece["moments"][name] = name + "_" + std::to_string(i);
        }
      }
    }
    out.tensors[item.key()] = nlohmann::json::array({piece});
    ++i;
  }
  std::ostringstream bytes;
  a.save_to(bytes);
  out.bytes = bytes.str();
  return out;
}

// World rank 0's message (empty: success), on every rank.
void throwIfRootFailed(const parallel::ParallelGrid& g, const std::string& root_error) {
  const std::string error = comm::broadcastBytes(g.world(), g.worldRank() == 0 ? root_error : std::string(), 0);
  if (!error.empty()) throw CheckpointError(error);
}

// This rank's shard file (one data-parallel replica per shard writes it);
// returns {"files": {...}, "tensors": {...}} or {"error": "..."}.
nlohmann::json writeOwnShard(const std::string& staging, const ShardedSave& s) {
  nlohmann::json mine = {{"rank", s.grid->worldRank()}};
  if (s.grid->coord().dp != 0) return mine;
  const std::string file = shardFileName(s.grid->coord().tp, s.grid->coord().pp);
  try {
    const ShardContents c = shardContents(*s.model, s.optimizer, s.grid->coord().tp == 0, file);
    core::writeFileDurable((fs::path(staging) / file).string(), c.bytes);
    mine["files"][file] = {{"bytes", c.bytes.size()},
                           {"crc32", core::crc32(c.bytes.data(), c.bytes.size())},
                           {"rank", s.grid->worldRank()}};
    mine["tensors"] = c.tensors;
  } catch (const std::system_error& e) {
    mine["error"] = staging + "/" + file + ": write failed (" + e.code().message() + "; disk full?)";
  } catch (const c10::Error& e) {
    mine["error"] = staging + "/" + file + ": " + e.what_without_backtrace();
  } catch (const std::exception& e) {
    mine["error"] = staging + "/" + file + ": " + e.what();
  }
  return mine;
}

// World rank 0: layout.json and rank files from what every rank sent, then commit.
std::string commitOnRoot(CheckpointManager& m, const std::string& name, CheckpointPayload p,
                         const std::vector<std::string>& metas, const std::vector<std::string>& rank_states,
                         const CheckpointLayout& layout) {
  nlohmann::json files = nlohmann::json::object();
  nlohmann::json tensors = nlohmann::json::object();
  for (size_t r = 0; r < metas.size(); ++r) {
    const nlohmann::json meta = nlohmann::json::parse(metas[r]);
    if (meta.contains("error")) {
      throw CheckpointError(fmt::format("checkpoint {}: world rank {}: {}", name, r, meta["error"].get<std::string>()));
    }
    if (meta.contains("files")) files.update(meta["files"]);
    if (!meta.contains("tensors")) continue;
    for (const auto& [tensor, pieces] : meta["tensors"].items()) {
      for (const auto& piece : pieces) tensors[tensor].push_back(piece);
    }
  }
  nlohmann::json doc = layoutJson(layout);
  doc["tensors"] = tensors;
  p.extra_files.emplace_back("layout.json", doc.dump(1));
  for (size_t r = 0; r < rank_states.size(); ++r) p.extra_files.emplace_back(rankFileName(static_cast<int>(r)), rank_states[r]);
  return m.commit(name, p, files);
}

}  // namespace

std::string CheckpointLayout::str() const {
  std::string cut;
  if (pp > 1) cut = stage_first.empty() ? " stages unknown" : fmt::format(" stages from parts {}", fmt::join(stage_first, ","));
  return fmt::format("(dp,tp,pp)=({},{},{}){} compression {}", dp, tp, pp, cut, core::enumName(compression));
}

nlohmann::json layoutJson(const CheckpointLayout& l) {
  return {{"dp", l.dp}, {"tp", l.tp}, {"pp", l.pp}, {"compression", core::enumName(l.compression)},
          {"stage_first", l.stage_first}};
}

std::string shardFileName(int tp_rank, int pp_rank) { return fmt::format("shard-tp{:02d}-pp{:02d}.pt", tp_rank, pp_rank); }

std::string saveShardedCheckpoint(CheckpointManager& manager, const std::string& name, CheckpointPayload payload,
                                  const ShardedSave& s) {
  const parallel::ParallelGrid& g = *s.grid;
  const bool root = g.worldRank() == 0;
  std::string error;
  if (root) {
    try {
      manager.prepare(name);
    } catch (const CheckpointError& e) {
      error = e.what();
    }
  }
  throwIfRootFailed(g, error);
  const nlohmann::json mine = writeOwnShard(manager.stagingDir(name), s);
  // Only the writer needs what the others hold: gathered to it alone, in chunks.
  const std::vector<std::string> metas = comm::gatherBytes(g.world(), mine.dump(), 0, s.chunks);
  const std::vector<std::string> rank_states = comm::gatherBytes(g.world(), s.rank_state, 0, s.chunks);
  std::string dir;
  if (root) {
    try {
      dir = commitOnRoot(manager, name, std::move(payload), metas, rank_states, s.layout);
    } catch (const CheckpointError& e) {
      manager.discard(name);
      error = e.what();
    }
  }
  throwIfRootFailed(g, error);
  return dir.empty() ? manager.dir() + "/" + name : dir;
}

namespace {

CheckpointLayout layoutOf(const nlohmann::json& j) {
  using parallel::data_parallel::compression::CompressionType;
  const std::string name = j.at("compression").get<std::string>();
  const std::optional<CompressionType> type = core::parseEnum<CompressionType>(name);
  if (!type) throw CheckpointError("layout.json: 'compression': unknown value '" + name + "'");
  CheckpointLayout l{j.at("dp").get<int64_t>(), j.at("tp").get<int64_t>(), j.at("pp").get<int64_t>(), *type, {}};
  // Written before the stage cut was part of the layout: known only without pp.
  if (j.contains("stage_first")) l.stage_first = j.at("stage_first").get<std::vector<int64_t>>();
  else if (l.pp == 1) l.stage_first = {0};
  return l;
}

nlohmann::json readLayoutJson(const CheckpointInfo& ckpt) {
  try {
    return nlohmann::json::parse(readCheckpointFile(ckpt, "layout.json"));
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(ckpt.dir + "/layout.json: " + e.what());
  }
}

}  // namespace

CheckpointLayout checkpointLayout(const CheckpointInfo& ckpt) {
  const nlohmann::json j = readLayoutJson(ckpt);
  try {
    return layoutOf(j);
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(ckpt.dir + "/layout.json: " + e.what());
  }
}

CheckpointLayout layoutFromJson(const nlohmann::json& j) {
  try {
    return layoutOf(j);
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(std::string("layout: ") + e.what());
  }
}

CheckpointLayout loadShardedModel(const CheckpointInfo& ckpt, GraphClassifierImpl& model,
                                  torch::optim::Optimizer* optimizer) {
  const std::string where = ckpt.dir + "/layout.json";
  const nlohmann::json doc = readLayoutJson(ckpt);
  CheckpointLayout written;
  try {
    written = layoutOf(doc);
    loadModelSlices(ckpt, doc.at("tensors"), model, optimizer);
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(where + ": " + e.what());
  }
  return written;
}

}  // namespace autoglm::trainer
