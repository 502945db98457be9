#include "trainer/checkpoint/shard_loader.h"

#include <ATen/Functions.h>
#include <spdlog/fmt/fmt.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <optional>

#include "core/error.h"
#include "trainer/checkpoint/param_state.h"

namespace autoglm::trainer {
namespace {

using core::model::GraphClassifierImpl;
using core::model::ParamShard;

// A region of a tensor: [lo, hi) along every dimension.
using Box = std::vector<std::pair<int64_t, int64_t>>;

Box boxOf(const std::vector<int64_t>& shape, int64_t dim, int64_t offset, int64_t length) {
  Box b;
  for (int64_t s : shape) b.emplace_back(0, s);
  if (dim >= 0 && dim < static_cast<int64_t>(b.size())) b[static_cast<size_t>(dim)] = {offset, offset + length};
  return b;
}

std::optional<Box> intersect(const Box& a, const Box& b) {
  Box out;
  for (size_t i = 0; i < a.size(); ++i) {
    const int64_t lo = std::max(a[i].first, b[i].first), hi = std::min(a[i].second, b[i].second);
    if (lo >= hi) return std::nullopt;
    out.emplace_back(lo, hi);
  }
  return out;
}

// The part of `t` (which holds `origin` of the global tensor) that is `region`.
at::Tensor viewOf(at::Tensor t, const Box& origin, const Box& region) {
  for (size_t d = 0; d < region.size(); ++d) {
    t = t.narrow(static_cast<int64_t>(d), region[d].first - origin[d].first, region[d].second - region[d].first);
  }
  return t;
}

int64_t volume(const Box& b) {
  int64_t n = 1;
  for (const auto& [lo, hi] : b) n *= hi - lo;
  return n;
}

std::vector<int64_t> extents(const Box& b) {
  std::vector<int64_t> e;
  for (const auto& [lo, hi] : b) e.push_back(hi - lo);
  return e;
}

std::string shapeString(const std::vector<int64_t>& s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

struct Piece {
  std::string file, key;
  Box box;  // what it holds of the global tensor
  nlohmann::json moments;
};

// The pieces of one tensor; a piece's length along its dimension is the
// distance to the next piece (or the end), so older layout.json files work too.
std::vector<Piece> piecesOf(const nlohmann::json& pieces, const std::vector<int64_t>& shape) {
  std::vector<std::pair<int64_t, const nlohmann::json*>> sharded;
  std::vector<Piece> out;
  for (const auto& p : pieces) {
    const int64_t dim = p.at("dim").get<int64_t>();
    if (dim < 0) {  // the whole tensor; one copy is enough
      if (out.empty()) out.push_back({p.at("file"), p.at("key"), boxOf(shape, -1, 0, 0), p.value("moments", nlohmann::json::object())});
      continue;
    }
    sharded.emplace_back(p.at("offset").get<int64_t>(), &p);
  }
  if (!out.empty()) return out;
  std::sort(sharded.begin(), sharded.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < sharded.size(); ++i) {
    const nlohmann::json& p = *sharded[i].second;
    const int64_t dim = p.at("dim").get<int64_t>(), off = sharded[i].first;
    const int64_t end = i + 1 < sharded.size() ? sharded[i + 1].first : shape.at(static_cast<size_t>(dim));
    out.push_back({p.at("file"), p.at("key"), boxOf(shape, dim, off, p.value("length", end - off)),
                   p.value("moments", nlohmann::json::object())});
  }
  return out;
}

// One parameter being filled, and the moments it gets.
struct Target {
  std::string name;
  at::Tensor param;
  Box local;
  std::vector<std::pair<std::string, at::Tensor>> moments;
  std::optional<int64_t> step;
  int64_t covered = 0;
};

struct Read {
  size_t target;
  Piece piece;
  Box region;
};

Target targetOf(const std::string& where, const std::string& name, const nlohmann::json& pieces, at::Tensor& p,
                const std::optional<ParamShard>& shard, bool with_moments) {
  Target t{name, p, {}, {}, std::nullopt, 0};
  std::vector<int64_t> full = p.sizes().vec();
  if (shard) full[static_cast<size_t>(shard->dim)] = shard->full_size;
  const auto shape = pieces.at(0).at("shape").get<std::vector<int64_t>>();
  if (shape != full) {
    throw CheckpointError(fmt::format("{}: {} has shape {} in the checkpoint, this model's is {}{}; model settings "
                                      "must match the checkpoint's", where, name, shapeString(shape),
                                      shard ? "a slice of " : "", shapeString(full)));
  }
  t.local = shard ? boxOf(full, shard->dim, shard->offset, p.size(shard->dim)) : boxOf(full, -1, 0, 0);
  if (with_moments && pieces.at(0).contains("step")) {
    t.step = pieces.at(0).at("step").get<int64_t>();
    for (const char* m : kMomentNames) {
      if (pieces.at(0).value("moments", nlohmann::json::object()).contains(m)) {
        t.moments.emplace_back(m, at::empty(p.sizes(), p.options()));
      }
    }
  }
  return t;
}

at::Tensor readKey(torch::serialize::InputArchive& a, const std::string& path, const std::string& key) {
  at::Tensor t;
  if (!a.try_read(key, t)) throw CheckpointError(path + ": no tensor '" + key + "' (layout.json names it)");
  return t;
}

// Copies what every read of one file holds into its target.
void readFile(const CheckpointInfo& ckpt, const std::string& file, const std::vector<Read>& reads,
              std::vector<Target>& targets) {
  const std::string path = verifiedCheckpointPath(ckpt, file);
  try {
    torch::serialize::InputArchive a;
    a.load_from(path);
    for (const Read& r : reads) {
      Target& t = targets[r.target];
      const at::Tensor src = readKey(a, path, r.piece.key);
      if (src.sizes().vec() != extents(r.piece.box)) {
        throw CheckpointError(fmt::format("{}: tensor '{}' ({}) has shape {}, layout.json says {}", path, r.piece.key,
                                          t.name, shapeString(src.sizes().vec()), shapeString(extents(r.piece.box))));
      }
      viewOf(t.param, t.local, r.region).copy_(viewOf(src, r.piece.box, r.region));
      for (auto& [moment, dst] : t.moments) {
        const std::string key = r.piece.moments.value(moment, "");
        if (key.empty()) throw CheckpointError(path + ": " + t.name + " has no " + moment + " in this slice");
        viewOf(dst, t.local, r.region).copy_(viewOf(readKey(a, path, key), r.piece.box, r.region));
      }
      t.covered += volume(r.region);
    }
  } catch (const c10::Error& e) {
    throw CheckpointError(path + ": unreadable shard: " + e.what_without_backtrace());
  }
}

// Bit i set: `m` holds kMomentNames[i].
int64_t momentMask(const Moments& m) {
  int64_t mask = 0;
  for (size_t i = 0; i < std::size(kMomentNames); ++i) {
    for (const auto& [name, t] : m.tensors) {
      if (name == kMomentNames[i]) mask |= int64_t{1} << i;
    }
  }
  return mask;
}

const at::Tensor& momentTensor(const Moments& m, const std::string& name) {
  for (const auto& [n, t] : m.tensors) {
    if (n == name) return t;
  }
  throw CheckpointError("no optimizer state '" + name + "'");  // unreachable: the mask came from m
}

}  // namespace

void loadModelSlices(const CheckpointInfo& ckpt, const nlohmann::json& tensors, GraphClassifierImpl& model,
                     torch::optim::Optimizer* optimizer) {
  const std::string where = ckpt.dir + "/layout.json";
  if (optimizer != nullptr) checkRestorable(*optimizer, ckpt.dir);
  std::vector<Target> targets;
  std::map<std::string, std::vector<Read>> by_file;  // one archive in memory at a time
  for (auto& item : model.named_parameters()) {
    const std::string& name = item.key();
    if (!tensors.contains(name)) {
      throw CheckpointError(where + ": no tensor " + name + "; model settings must match the checkpoint's");
    }
    try {
      const nlohmann::json& pieces = tensors.at(name);
      targets.push_back(targetOf(where, name, pieces, item.value(), shardOfParam(model, name), optimizer != nullptr));
      const Target& t = targets.back();
      for (Piece& piece : piecesOf(pieces, pieces.at(0).at("shape").get<std::vector<int64_t>>())) {
        if (auto region = intersect(piece.box, t.local)) {
          by_file[piece.file].push_back({targets.size() - 1, std::move(piece), std::move(*region)});
        }
      }
    } catch (const nlohmann::json::exception& e) {
      throw CheckpointError(where + ": " + name + ": " + e.what());
    }
  }
  torch::NoGradGuard no_grad;
  for (const auto& [file, reads] : by_file) readFile(ckpt, file, reads, targets);
  for (Target& t : targets) {
    if (t.covered != t.param.numel()) {
      throw CheckpointError(fmt::format("{}: the slices of {} cover {} of the {} entries this process holds", where,
                                        t.name, t.covered, t.param.numel()));
    }
    if (optimizer != nullptr && t.step) setMoments(*optimizer, t.param, {*t.step, t.moments});
  }
}

void broadcastModelState(comm::Communicator& comm, GraphClassifierImpl& model, torch::optim::Optimizer* optimizer,
                         int root) {
  if (comm.size() == 1) return;
  torch::NoGradGuard no_grad;
  const bool me = comm.rank() == root;
  for (auto& p : model.parameters()) {
    at::Tensor t = p.is_contiguous() ? p.detach() : p.detach().contiguous();
    comm.broadcast(t, {root})->wait();
    if (!p.is_contiguous()) p.copy_(t);
    if (optimizer == nullptr) continue;
    std::optional<Moments> m = me ? momentsOf(*optimizer, p) : std::nullopt;
    // step (-1: none), then which of kMomentNames follow, as bits
    at::Tensor head = at::zeros({2}, at::TensorOptions().dtype(at::kLong));
    if (me) head = at::tensor({m ? m->step : -1, m ? momentMask(*m) : 0}, at::kLong);
    comm.broadcast(head, {root})->wait();
    const int64_t step = head[0].item<int64_t>(), mask = head[1].item<int64_t>();
    if (step < 0) continue;
    Moments got{step, {}};
    for (size_t i = 0; i < std::size(kMomentNames); ++i) {
      if ((mask >> i & 1) == 0) continue;
      at::Tensor v = me ? momentTensor(*m, kMomentNames[i]).contiguous() : at::empty(p.sizes(), p.options());
      comm.broadcast(v, {root})->wait();
      got.tensors.emplace_back(kMomentNames[i], v);
    }
    if (!me) setMoments(*optimizer, p, got);
  }
}

}  // namespace autoglm::trainer
