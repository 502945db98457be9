#include "trainer/checkpoint/sharded_checkpoint.h"

#include <ATen/Functions.h>
#include <spdlog/fmt/fmt.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/serialize.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include "core/error.h"
#include "core/file_io.h"
#include "core/hash.h"
#include "trainer/checkpoint/rank_state.h"

namespace autoglm::trainer {
namespace fs = std::filesystem;

namespace {

using core::model::GraphClassifierImpl;
using core::model::ParamShard;

// "block0.proj.weight" -> the part's slice of it, or nothing (the whole tensor).
// A parameter of the model itself, outside every part ("learned_edge_scale"),
// is never sharded.
std::optional<ParamShard> shardOfParam(const GraphClassifierImpl& model, const std::string& name) {
  const auto dot = name.find('.');
  if (dot == std::string::npos) return std::nullopt;
  return model.part(name.substr(0, dot))->shardOf(name.substr(dot + 1));
}

std::string stateKey(const at::Tensor& p) { return c10::guts::to_string(p.unsafeGetTensorImpl()); }

// Adam and AdamW keep the same per-parameter state in different types.
struct Moments {
  int64_t step = 0;
  std::vector<std::pair<std::string, at::Tensor>> tensors;
};

template <class S>
Moments momentsFrom(const S& s) {
  Moments m{s.step(), {{"exp_avg", s.exp_avg()}, {"exp_avg_sq", s.exp_avg_sq()}}};
  if (s.max_exp_avg_sq().defined()) m.tensors.emplace_back("max_exp_avg_sq", s.max_exp_avg_sq());
  return m;
}

std::optional<Moments> momentsOf(torch::optim::Optimizer& opt, const at::Tensor& p) {
  auto it = opt.state().find(stateKey(p));
  if (it == opt.state().end()) return std::nullopt;  // not stepped yet
  if (const auto* s = dynamic_cast<const torch::optim::AdamWParamState*>(it->second.get())) return momentsFrom(*s);
  if (const auto* s = dynamic_cast<const torch::optim::AdamParamState*>(it->second.get())) return momentsFrom(*s);
  throw CheckpointError("checkpoint: the optimizer's state is neither Adam's nor AdamW's");
}

template <class S>
std::unique_ptr<torch::optim::OptimizerParamState> stateFrom(const Moments& m) {
  auto s = std::make_unique<S>();
  s->step(m.step);
  for (const auto& [name, t] : m.tensors) {
    if (name == "exp_avg") s->exp_avg(t);
    if (name == "exp_avg_sq") s->exp_avg_sq(t);
    if (name == "max_exp_avg_sq") s->max_exp_avg_sq(t);
  }
  return s;
}

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
    nlohmann::json piece = {{"file", file}, {"key", key}, {"shape", shape},
                            {"dim", shard ? shard->dim : -1}, {"offset", shard ? shard->offset : 0}};
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
  const std::string error = comm::allgatherStrings(g.world(), g.worldRank() == 0 ? root_error : std::string())[0];
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
  const nlohmann::json doc = {{"dp", layout.dp},   {"tp", layout.tp},           {"pp", layout.pp},
                              {"compression", core::enumName(layout.compression)}, {"tensors", tensors}};
  p.extra_files.emplace_back("layout.json", doc.dump(1));
  for (size_t r = 0; r < rank_states.size(); ++r) p.extra_files.emplace_back(rankFileName(static_cast<int>(r)), rank_states[r]);
  return m.commit(name, p, files);
}

class ShardReader {
 public:
  explicit ShardReader(std::string dir) : dir_(std::move(dir)) {}
  at::Tensor read(const std::string& file, const std::string& key) {
    const std::string path = (fs::path(dir_) / file).string();
    auto& a = archives_[file];
    try {
      if (!a) {
        a = std::make_unique<torch::serialize::InputArchive>();
        a->load_from(path);
      }
      at::Tensor t;
      if (!a->try_read(key, t)) throw CheckpointError(path + ": no tensor '" + key + "' (layout.json names it)");
      return t;
    } catch (const c10::Error& e) {
      throw CheckpointError(path + ": unreadable shard: " + e.what_without_backtrace());
    }
  }

 private:
  std::string dir_;
  std::map<std::string, std::unique_ptr<torch::serialize::InputArchive>> archives_;
};

std::string shapeString(at::IntArrayRef s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

// The whole tensor `name` (or one of its Adam moments) from its pieces; undefined
// when the pieces hold no such moment.
at::Tensor assemble(const nlohmann::json& pieces, const std::string& moment, ShardReader& reader,
                    const std::string& where, const std::string& name) {
  const auto shape = pieces.at(0).at("shape").get<std::vector<int64_t>>();
  at::Tensor full;
  int64_t covered = 0, dim = -1;
  for (const auto& piece : pieces) {
    const std::string key = moment.empty() ? piece.at("key").get<std::string>()
                                           : piece.value("moments", nlohmann::json::object()).value(moment, "");
    if (key.empty()) return {};
    at::Tensor t = reader.read(piece.at("file").get<std::string>(), key);
    dim = piece.at("dim").get<int64_t>();
    if (dim < 0) return t;
    if (!full.defined()) full = at::empty(shape, t.options());
    full.narrow(dim, piece.at("offset").get<int64_t>(), t.size(dim)).copy_(t);
    covered += t.size(dim);
  }
  if (covered != shape[static_cast<size_t>(dim)]) {
    throw CheckpointError(fmt::format("{}: the slices of {} cover {} of its {} entries along dimension {}", where,
                                      name, covered, shape[static_cast<size_t>(dim)], dim));
  }
  return full;
}

// The slice of `full` this process's parameter holds.
at::Tensor localSlice(const at::Tensor& full, const std::optional<ParamShard>& shard, const at::Tensor& param,
                      const std::string& where, const std::string& name) {
  at::Tensor t = full;
  if (shard && full.dim() > shard->dim && full.size(shard->dim) == shard->full_size) {
    t = full.narrow(shard->dim, shard->offset, param.size(shard->dim));
  }
  if (t.sizes() != param.sizes()) {
    throw CheckpointError(fmt::format("{}: {} has shape {} in the checkpoint, this model's is {}{}; model settings "
                                      "must match the checkpoint's",
                                      where, name, shapeString(full.sizes()),
                                      shard ? "a slice of " : "", shapeString(param.sizes())));
  }
  return t;
}

}  // namespace

std::string CheckpointLayout::str() const {
  return fmt::format("(dp,tp,pp)=({},{},{}) compression {}", dp, tp, pp, core::enumName(compression));
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
  const std::vector<std::string> metas = comm::allgatherStrings(g.world(), mine.dump());
  const std::vector<std::string> rank_states = comm::allgatherStrings(g.world(), s.rank_state);
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
  return {j.at("dp").get<int64_t>(), j.at("tp").get<int64_t>(), j.at("pp").get<int64_t>(), *type};
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

CheckpointLayout loadShardedModel(const CheckpointInfo& ckpt, GraphClassifierImpl& model,
                                  torch::optim::Optimizer* optimizer) {
  const std::string where = ckpt.dir + "/layout.json";
  const nlohmann::json doc = readLayoutJson(ckpt);
  nlohmann::json tensors;
  CheckpointLayout written;
  try {
    tensors = doc.at("tensors");
    written = layoutOf(doc);
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(where + ": " + e.what());
  }
  const bool adamw = dynamic_cast<torch::optim::AdamW*>(optimizer) != nullptr;
  if (optimizer != nullptr && !adamw && dynamic_cast<torch::optim::Adam*>(optimizer) == nullptr) {
    throw CheckpointError(ckpt.dir + ": only Adam and AdamW state can be restored");
  }
  ShardReader reader(ckpt.dir);
  torch::NoGradGuard no_grad;
  for (auto& item : model.named_parameters()) {
    const std::string& name = item.key();
    if (!tensors.contains(name)) {
      throw CheckpointError(where + ": no tensor " + name + "; model settings must match the checkpoint's");
    }
    const nlohmann::json& pieces = tensors[name];
    try {
      const std::optional<ParamShard> shard = shardOfParam(model, name);
      at::Tensor& p = item.value();
      p.copy_(localSlice(assemble(pieces, "", reader, where, name), shard, p, where, name));
      if (optimizer == nullptr || !pieces.at(0).contains("step")) continue;
      Moments m{pieces.at(0).at("step").get<int64_t>(), {}};
      for (const char* moment : {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}) {
        const at::Tensor full = assemble(pieces, moment, reader, where, name + " (" + moment + ")");
        if (full.defined()) m.tensors.emplace_back(moment, localSlice(full, shard, p, where, name).contiguous().clone());
      }
      optimizer->state()[stateKey(p)] = adamw ? stateFrom<torch::optim::AdamWParamState>(m)
                                             : stateFrom<torch::optim::AdamParamState>(m);
    } catch (const nlohmann::json::exception& e) {
      throw CheckpointError(where + ": " + name + ": " + e.what());
    }
  }
  return written;
}

}  // namespace autoglm::trainer
