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

std::string entityFile(int tp_rank) { return fmt::format("entities-tp{:02d}.pt", tp_rank); }

// A table (or its rows) and its optimizer state as archive bytes.
std::string tableBytes(const at::Tensor& p, torch::optim::Optimizer* opt, int64_t* step) {
  torch::serialize::OutputArchive a;
  a.write("rows", p.detach());
  *step = -1;
  if (opt != nullptr) {
    if (const auto m = momentsOf(*opt, p)) {
      *step = m->step;
      a.write("step", at::tensor({m->step}, at::kLong));
      for (const auto& [name, t] : m->tensors) a.write(name, t);
    }
  }
  std::ostringstream out;
  a.save_to(out);
  return out.str();
}

struct Table {
  at::Tensor rows;
  Moments moments;
  bool has_moments = false;
};

// Rows [offset, offset + rows_wanted) of a table stored as `pieces`
// ({file, offset, rows, step}), with their moments.
Table readRows(const CheckpointInfo& ckpt, const nlohmann::json& pieces, int64_t offset, int64_t rows_wanted,
               int64_t width, bool want_moments) {
  Table out;
  out.rows = at::empty({rows_wanted, width}, at::kFloat);
  int64_t covered = 0;
  for (const auto& piece : pieces) {
    const int64_t p0 = piece.at("offset").get<int64_t>(), pn = piece.at("rows").get<int64_t>();
    const int64_t lo = std::max(offset, p0), hi = std::min(offset + rows_wanted, p0 + pn);
    if (lo >= hi) continue;
    const std::string file = piece.at("file").get<std::string>();
    torch::serialize::InputArchive a;
    a.load_from(verifiedCheckpointPath(ckpt, file));
    at::Tensor t;
    a.read("rows", t);
    if (t.dim() != 2 || t.size(0) != pn || t.size(1) != width) {
      throw CheckpointError(fmt::format("{}/{}: rows of shape {} where kg_layout.json says [{}, {}]", ckpt.dir, file,
                                        fmt::join(t.sizes(), ", "), pn, width));
    }
    out.rows.narrow(0, lo - offset, hi - lo).copy_(t.narrow(0, lo - p0, hi - lo));
    const int64_t step = piece.value("step", int64_t{-1});
    if (want_moments && step >= 0) {
      out.has_moments = true;
      out.moments.step = step;
      for (const char* name : kMomentNames) {
        at::Tensor m;
        if (!a.try_read(name, m)) continue;
        auto it = std::find_if(out.moments.tensors.begin(), out.moments.tensors.end(),
                               [&](const auto& x) { return x.first == name; });
        if (it == out.moments.tensors.end()) {
          out.moments.tensors.emplace_back(name, at::zeros({rows_wanted, width}, at::kFloat));
          it = std::prev(out.moments.tensors.end());
        }
        it->second.narrow(0, lo - offset, hi - lo).copy_(m.narrow(0, lo - p0, hi - lo));
      }
    }
    covered += hi - lo;
  }
  if (covered != rows_wanted) {
    throw CheckpointError(fmt::format("{}: kg_layout.json's shards cover {} of rows [{}, {})", ckpt.dir, covered, offset,
                                      offset + rows_wanted));
  }
  return out;
}

void apply(at::Tensor& p, const Table& t, torch::optim::Optimizer* opt) {
  {
    at::NoGradGuard no_grad;
    p.copy_(t.rows);
  }
  if (opt != nullptr && t.has_moments) setMoments(*opt, p, t.moments);
}

}  // namespace

void saveKgCheckpoint(CheckpointManager& manager, const std::string& name, CheckpointPayload payload,
                      const parallel::ParallelGrid& grid, KgModel& model, torch::optim::Optimizer* opt) {
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
    const std::string file = entityFile(grid.tp().rank());
    try {
      int64_t step = -1;
      const std::string bytes = tableBytes(model.entities(), opt, &step);
      core::writeFileDurable((fs::path(manager.stagingDir(name)) / file).string(), bytes);
      mine["files"][file] = {{"bytes", bytes.size()}, {"crc32", core::crc32(bytes.data(), bytes.size())},
                             {"rank", grid.worldRank()}};
      mine["piece"] = {{"file", file}, {"offset", model.offset()}, {"rows", model.rows()}, {"step", step}};
    } catch (const std::system_error& e) {
      mine["error"] = fmt::format("{}: write failed ({}; disk full?)", file, e.code().message());
    } catch (const std::exception& e) {
      mine["error"] = fmt::format("{}: {}", file, e.what());
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
        if (m.contains("piece")) pieces.push_back(m["piece"]);
      }
      int64_t rel_step = -1;
      payload.extra_files.emplace_back("relations.pt", tableBytes(model.relations(), opt, &rel_step));
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
    apply(model.entities(), readRows(ckpt, layout.at("entity_shards"), model.offset(), model.rows(), model.fn().dim(),
                                     opt != nullptr), opt);
    apply(model.relations(), readRows(ckpt, layout.at("relation_shards"), 0, model.relations().size(0),
                                      model.relations().size(1), opt != nullptr), opt);
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
  // Data-parallel rank 0 of this tp rank sends its rows and state to the others.
  int64_t es = -1, rs = -1;
  const bool sender = grid.coord().dp == 0;
  const std::string e_bytes = comm::broadcastBytes(grid.dp(), sender ? tableBytes(model.entities(), opt, &es) : "", 0);
  const std::string r_bytes = comm::broadcastBytes(grid.dp(), sender ? tableBytes(model.relations(), opt, &rs) : "", 0);
  if (sender) return;
  for (auto [bytes, p] : {std::pair<const std::string*, at::Tensor*>{&e_bytes, &model.entities()},
                          {&r_bytes, &model.relations()}}) {
    torch::serialize::InputArchive a;
    std::istringstream in(*bytes);
    a.load_from(in);
    Table t;
    a.read("rows", t.rows);
    for (const char* name : kMomentNames) {
      at::Tensor m;
      if (a.try_read(name, m)) t.moments.tensors.emplace_back(name, m);
    }
    t.has_moments = !t.moments.tensors.empty();
    at::Tensor step;
    if (a.try_read("step", step)) t.moments.step = step.item<int64_t>();
    apply(*p, t, opt);
  }
}

}  // namespace autoglm::trainer
