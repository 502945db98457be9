#include "trainer/tasks/kg_completion/kg_checkpoint.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <ATen/Functions.h>
#include <c10/util/Exception.h>
#include <ATen/core/grad_mode.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize.h>

#include <filesystem>
#include <sstream>
#include <system_error>

#include "comm/chunked_bytes.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/hash.h"
#include "trainer/checkpoint/param_state.h"

namespace autoglm::trainer {
namespace fs = std::filesystem;

namespace {

// Rows of a shard per file: about kChunkBytes of each tensor (rows and each
// moment), so that writing or reading a file holds one chunk, never the shard.
int64_t chunkRows(int64_t width, int64_t chunk_bytes = kKgCheckpointChunkBytes) {
  return std::max<int64_t>(1, chunk_bytes / (4 * std::max<int64_t>(1, width)));
}

std::string entityFile(int tp_rank, int64_t chunk) { return fmt::format("entities-tp{:02d}-c{:05d}.pt", tp_rank, chunk); }

// Rows [first, first + n) of a table and of its optimizer state into an archive.
void chunkArchive(torch::serialize::OutputArchive& a, const at::Tensor& p, torch::optim::Optimizer* opt, int64_t first,
                  int64_t n, int64_t* step) {
  // Copies: an archive holds a view's whole storage, the table, not its rows.
  a.write("rows", p.detach().narrow(0, first, n).clone());
  *step = -1;
  if (opt != nullptr) {
    if (const auto m = momentsOf(*opt, p)) {
      *step = m->step;
      a.write("step", at::tensor({m->step}, at::kLong));
      for (const auto& [name, t] : m->tensors) a.write(name, t.narrow(0, first, n).clone());
    }
  }
}

// The same as bytes (the relation table; chunks sent over dp).
std::string chunkBytes(const at::Tensor& p, torch::optim::Optimizer* opt, int64_t first, int64_t n, int64_t* step) {
  torch::serialize::OutputArchive a;
  chunkArchive(a, p, opt, first, n, step);
  std::ostringstream out;
  a.save_to(out);
  return out.str();
}

// Where a table's rows and optimizer state are read into: the parameter itself
// and the optimizer's own state tensors (allocated once where it has none yet,
// Adam before its first step), so that loading holds no second copy.
struct Dest {
  at::Tensor rows;
  Moments moments;
  bool want_moments = false, has_moments = false;
  at::Tensor& moment(const std::string& name) {
    for (auto& [n, t] : moments.tensors) {
      if (n == name) return t;
    }
    moments.tensors.emplace_back(name, at::zeros_like(rows));
    return moments.tensors.back().second;
  }
};

Dest destOf(at::Tensor& p, torch::optim::Optimizer* opt) {
  Dest d;
  d.rows = p.detach();
  d.want_moments = opt != nullptr;
  if (opt != nullptr) {
    if (auto m = momentsOf(*opt, p)) d.moments = std::move(*m);
  }
  return d;
}

// Copies rows [lo, hi) (global) of archive `a`, which holds rows from p0, into
// `d`, which holds rows from `offset`.
void copyRows(torch::serialize::InputArchive& a, int64_t p0, int64_t lo, int64_t hi, int64_t offset, Dest& d,
              const std::string& where) {
  at::Tensor t;
  a.read("rows", t);
  if (t.dim() != 2 || t.size(0) < hi - p0 || t.size(1) != d.rows.size(1)) {
    throw CheckpointError(fmt::format("{}: rows of shape [{}] where [{}, {}] was expected", where,
                                      fmt::join(t.sizes(), ", "), hi - p0, d.rows.size(1)));
  }
  {
    at::NoGradGuard no_grad;
    d.rows.narrow(0, lo - offset, hi - lo).copy_(t.narrow(0, lo - p0, hi - lo));
  }
  at::Tensor step;
  if (!d.want_moments || !a.try_read("step", step)) return;
  d.has_moments = true;
  d.moments.step = step.item<int64_t>();
  for (const char* name : kMomentNames) {
    at::Tensor m;
    if (a.try_read(name, m)) d.moment(name).narrow(0, lo - offset, hi - lo).copy_(m.narrow(0, lo - p0, hi - lo));
  }
}

// Rows [offset, offset + rows) of a table stored as `pieces` ({file, offset,
// rows}), read one file at a time into `d`.
void readRows(const CheckpointInfo& ckpt, const nlohmann::json& pieces, int64_t offset, Dest& d) {
  const int64_t rows = d.rows.size(0);
  int64_t covered = 0;
  for (const auto& piece : pieces) {
    const int64_t p0 = piece.at("offset").get<int64_t>(), pn = piece.at("rows").get<int64_t>();
    const int64_t lo = std::max(offset, p0), hi = std::min(offset + rows, p0 + pn);
    if (lo >= hi) continue;
    const std::string file = piece.at("file").get<std::string>();
    torch::serialize::InputArchive a;
    a.load_from(verifiedCheckpointPath(ckpt, file));
    copyRows(a, p0, lo, hi, offset, d, ckpt.dir + "/" + file);
    covered += hi - lo;
  }
  if (covered != rows) {
    throw CheckpointError(fmt::format("{}: kg_layout.json's shards cover {} of rows [{}, {})", ckpt.dir, covered, offset,
                                      offset + rows));
  }
}

void apply(at::Tensor& p, Dest& d, torch::optim::Optimizer* opt) {
  if (opt != nullptr && d.has_moments) setMoments(*opt, p, d.moments);
}

// This rank's chunk files of the entity table into `staging`; returns
// {"files": {...}, "pieces": [...]}.
nlohmann::json writeEntityChunks(const std::string& staging, const parallel::ParallelGrid& grid, KgModel& model,
                                 torch::optim::Optimizer* opt, int64_t chunk_bytes) {
  nlohmann::json out = {{"files", nlohmann::json::object()}, {"pieces", nlohmann::json::array()}};
  const int64_t per = chunkRows(model.fn().dim(), chunk_bytes);
  for (int64_t c = 0, first = 0; first < model.rows(); ++c, first += per) {
    const int64_t n = std::min(per, model.rows() - first);
    const std::string file = entityFile(grid.tp().rank(), c);
    int64_t step = -1;
    const std::string path = (fs::path(staging) / file).string();
    {
      // Straight to the file: no archive in memory (a shard's chunks would
      // leave the heap fragmented by as much).
      torch::serialize::OutputArchive a;
      chunkArchive(a, model.entities(), opt, first, n, &step);
      a.save_to(path);
    }
    core::fsyncPath(path);
    const auto [bytes, crc] = fileSizeAndCrc32(path);
    out["files"][file] = {{"bytes", bytes}, {"crc32", crc}, {"rank", grid.worldRank()}};
    out["pieces"].push_back({{"file", file}, {"offset", model.offset() + first}, {"rows", n}, {"step", step}});
  }
  return out;
}

}  // namespace

void saveKgCheckpoint(CheckpointManager& manager, const std::string& name, CheckpointPayload payload,
                      const parallel::ParallelGrid& grid, KgModel& model, torch::optim::Optimizer* opt,
                      int64_t chunk_bytes) {
  const bool root = grid.worldRank() == 0;
  std::string error;
  if (root) {
    try {
      manager.prepare(name);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  error = grid.world().size() > 1 ? comm::broadcastBytes(grid.world(), error, 0) : error;
  if (!error.empty()) throw CheckpointError(error);
  nlohmann::json mine = {{"rank", grid.worldRank()}};
  if (grid.coord().dp == 0) {
    const std::string what = fmt::format("entities-tp{:02d}-c*.pt", grid.tp().rank());
    try {
      mine.update(writeEntityChunks(manager.stagingDir(name), grid, model, opt, chunk_bytes));
    } catch (const std::system_error& e) {
      mine["error"] = fmt::format("{}: write failed ({}; disk full?)", what, e.code().message());
    } catch (const std::exception& e) {
      mine["error"] = fmt::format("{}: {}", what, e.what());
    }
  }
  const std::vector<std::string> all = comm::gatherBytes(grid.world(), mine.dump(), 0);
  if (root) {
    try {
      nlohmann::json files = nlohmann::json::object(), pieces = nlohmann::json::array();
      for (const auto& text : all) {
        const auto m = nlohmann::json::parse(text);
        if (m.contains("error")) {
          throw CheckpointError(fmt::format("checkpoint {}: world rank {}: {}", name, m["rank"].get<int>(),
                                            m["error"].get<std::string>()));
        }
        if (m.contains("files")) files.update(m["files"]);
        if (m.contains("pieces")) pieces.insert(pieces.end(), m["pieces"].begin(), m["pieces"].end());
      }
      int64_t rel_step = -1;
      payload.extra_files.emplace_back("relations.pt",
                                       chunkBytes(model.relations(), opt, 0, model.relations().size(0), &rel_step));
      const nlohmann::json layout = {
          {"entities", model.totalEntities()}, {"dim", model.fn().dim()},
          {"relations", model.relations().size(0)}, {"relation_width", model.relations().size(1)},
          {"tp", grid.tp().size()}, {"entity_shards", pieces},
          {"relation_shards", {{{"file", "relations.pt"}, {"offset", 0}, {"rows", model.relations().size(0)},
                                {"step", rel_step}}}}};
      payload.extra_files.emplace_back("kg_layout.json", layout.dump(1));
      manager.commit(name, payload, files);
    } catch (const std::exception& e) {
      error = e.what();
      manager.discard(name);
    }
  }
  error = grid.world().size() > 1 ? comm::broadcastBytes(grid.world(), error, 0) : error;
  if (!error.empty()) throw CheckpointError(error);
}

void readKgTables(const CheckpointInfo& ckpt, KgModel& model, torch::optim::Optimizer* opt) {
  nlohmann::json layout;
  try {
    layout = nlohmann::json::parse(readCheckpointFile(ckpt, "kg_layout.json"));
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(ckpt.dir + "/kg_layout.json: " + e.what());
  }
  const auto expect = [&](const char* key, int64_t value) {
    if (layout.at(key).get<int64_t>() != value) {
      throw CheckpointError(fmt::format("{}: kg_layout.json {} = {}, this run has {} (same graph, kg.dim and "
                                        "kg.reciprocal needed)", ckpt.dir, key, layout.at(key).dump(), value));
    }
  };
  expect("entities", model.totalEntities());
  expect("dim", model.fn().dim());
  expect("relations", model.relations().size(0));
  expect("relation_width", model.relations().size(1));
  try {
    Dest e = destOf(model.entities(), opt), r = destOf(model.relations(), opt);
    readRows(ckpt, layout.at("entity_shards"), model.offset(), e);
    readRows(ckpt, layout.at("relation_shards"), 0, r);
    apply(model.entities(), e, opt);
    apply(model.relations(), r, opt);
  } catch (const c10::Error& e) {
    throw CheckpointError(ckpt.dir + ": " + e.what_without_backtrace());
  }
}

void loadKgCheckpoint(const CheckpointInfo& ckpt, const parallel::ParallelGrid& grid, KgModel& model,
                      torch::optim::Optimizer* opt) {
  std::string error;
  if (grid.coord().dp == 0) {
    try {
      readKgTables(ckpt, model, opt);
    } catch (const std::exception& e) {
      error = fmt::format("world rank {}: {}", grid.worldRank(), e.what());
    }
  }
  const std::vector<std::string> errors = comm::gatherBytes(grid.world(), error, 0);
  std::string first;
  for (const auto& e : errors) {
    if (first.empty()) first = e;
  }
  first = grid.world().size() > 1 ? comm::broadcastBytes(grid.world(), first, 0) : error;
  if (!first.empty()) throw CheckpointError(first);
  if (grid.dp().size() == 1) return;
  // Data-parallel rank 0 of this tp rank sends its rows and state to the
  // others, a chunk at a time.
  const bool sender = grid.coord().dp == 0;
  for (at::Tensor* p : {&model.entities(), &model.relations()}) {
    Dest d = destOf(*p, opt);
    const int64_t per = chunkRows(p->size(1));
    for (int64_t first = 0; first < p->size(0); first += per) {
      const int64_t n = std::min(per, p->size(0) - first);
      int64_t step = -1;
      const std::string bytes = comm::broadcastBytes(grid.dp(), sender ? chunkBytes(*p, opt, first, n, &step) : "", 0);
      if (sender) continue;
      torch::serialize::InputArchive a;
      std::istringstream in(bytes);
      a.load_from(in);
      copyRows(a, first, first, first + n, 0, d, "the chunk data-parallel rank 0 sent");
    }
    if (!sender) apply(*p, d, opt);
  }
}

}  // namespace autoglm::trainer
