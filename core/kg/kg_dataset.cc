#include "core/kg/kg_dataset.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <string_view>

#include "core/error.h"
#include "core/file_io.h"

namespace autoglm::core::kg {
namespace fs = std::filesystem;

namespace {

// Calls fn(line_number, fields) for every non-blank line of `path`, split at
// tabs, with a trailing '\r' removed.
template <class Fn>
void forEachLine(const std::string& path, bool optional, Fn&& fn) {
  if (optional && !fs::exists(path)) return;
  const std::optional<std::string> bytes = readFileBytes(path);
  if (!bytes) throw DataError(path + ": cannot read");
  std::string_view text(*bytes);
  int64_t line_no = 0;
  std::vector<std::string_view> fields;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    fields.clear();
    size_t start = 0;
    for (;;) {
      const size_t tab = line.find('\t', start);
      fields.push_back(line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start));
      if (tab == std::string_view::npos) break;
      start = tab + 1;
    }
    fn(line_no, fields);
  }
}

std::optional<int64_t> parseId(std::string_view s) {
  int64_t v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

std::string where(const std::string& path, int64_t line) { return fmt::format("{}:{}", path, line); }

// A dictionary file: names by id (ids 0..n-1, each once) and ids by name.
void readDict(const std::string& path, std::vector<std::string>* names, std::unordered_map<std::string, int64_t>* ids) {
  std::vector<std::pair<int64_t, std::string>> rows;
  forEachLine(path, false, [&](int64_t line, const std::vector<std::string_view>& f) {
    if (f.size() != 2) {
      throw DataError(fmt::format("{}: expected \"<id>\\t<name>\", found {} field(s)", where(path, line), f.size()));
    }
    const auto id = parseId(f[0]);
    if (!id) throw DataError(fmt::format("{}: id \"{}\" is not a non-negative integer", where(path, line), f[0]));
    if (f[1].empty()) throw DataError(fmt::format("{}: empty name for id {}", where(path, line), *id));
    if (!ids->emplace(std::string(f[1]), *id).second) {
      throw DataError(fmt::format("{}: name \"{}\" appears twice", where(path, line), f[1]));
    }
    rows.emplace_back(*id, std::string(f[1]));
  });
  names->assign(rows.size(), std::string());
  std::vector<bool> seen(rows.size(), false);
  for (auto& [id, name] : rows) {
    if (id >= static_cast<int64_t>(rows.size())) {
      throw DataError(fmt::format("{}: id {} of \"{}\" is out of range: {} entries need ids 0..{}", path, id, name,
                                  rows.size(), rows.size() - 1));
    }
    if (seen[static_cast<size_t>(id)]) throw DataError(fmt::format("{}: id {} appears twice", path, id));
    seen[static_cast<size_t>(id)] = true;
    (*names)[static_cast<size_t>(id)] = std::move(name);
  }
  if (rows.empty()) throw DataError(path + ": no entries");
}

}  // namespace

const std::vector<Triple>& KgDataset::split(KgSplit s) const {
  switch (s) {
    case KgSplit::kTrain: return train_;
    case KgSplit::kValid: return valid_;
    case KgSplit::kTest: return test_;
  }
  return train_;
}

KgDataset KgDataset::load(const std::string& dir) {
  KgDataset d;
  d.dir_ = dir;
  if (!fs::is_directory(dir)) throw DataError(dir + ": no such knowledge-graph directory (kg.data_dir)");
  const std::string meta = (fs::path(dir) / "kg.json").string();
  const bool ids_form = fs::exists(meta);
  if (ids_form) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(readFileBytes(meta).value_or(""));
      if (j.at("format").get<std::string>() != "autoglm-kg-ids") throw DataError(meta + ": format is not autoglm-kg-ids");
      d.num_entities_ = j.at("entities").get<int64_t>();
      d.num_relations_ = j.at("relations").get<int64_t>();
    } catch (const nlohmann::json::exception& e) {
      throw DataError(meta + ": " + e.what());
    }
    if (d.num_entities_ < 1 || d.num_relations_ < 1) throw DataError(meta + ": entities and relations must be >= 1");
  } else {
    readDict((fs::path(dir) / "entities.dict").string(), &d.entity_names_, &d.entity_ids_);
    readDict((fs::path(dir) / "relations.dict").string(), &d.relation_names_, &d.relation_ids_);
    d.num_entities_ = static_cast<int64_t>(d.entity_names_.size());
    d.num_relations_ = static_cast<int64_t>(d.relation_names_.size());
  }
  const auto read = [&](const char* file, bool optional, std::vector<Triple>* out) {
    const std::string path = (fs::path(dir) / file).string();
    forEachLine(path, optional, [&](int64_t line, const std::vector<std::string_view>& f) {
      if (f.size() != 3) {
        throw DataError(fmt::format("{}: expected \"<head>\\t<relation>\\t<tail>\", found {} field(s)",
                                    where(path, line), f.size()));
      }
      int64_t v[3];
      for (int k = 0; k < 3; ++k) {
        const bool rel = k == 1;
        std::optional<int64_t> id;
        if (ids_form) {
          id = parseId(f[static_cast<size_t>(k)]);
          if (id && *id >= (rel ? d.num_relations_ : d.num_entities_)) id.reset();
        } else {
          id = rel ? d.relationId(std::string(f[1])) : d.entityId(std::string(f[static_cast<size_t>(k)]));
        }
        if (!id) {
          throw DataError(fmt::format("{}: {} \"{}\" is not in {}", where(path, line), rel ? "relation" : "entity",
                                      f[static_cast<size_t>(k)],
                                      ids_form ? "the id range of kg.json" : rel ? "relations.dict" : "entities.dict"));
        }
        v[k] = *id;
      }
      out->push_back({v[0], v[1], v[2]});
    });
  };
  read("train.txt", false, &d.train_);
  read("valid.txt", true, &d.valid_);
  read("test.txt", true, &d.test_);
  if (d.train_.empty()) throw DataError((fs::path(dir) / "train.txt").string() + ": no triples");
  return d;
}

KgDataset KgDataset::fromTriples(int64_t entities, int64_t relations, std::vector<Triple> train,
                                 std::vector<Triple> valid, std::vector<Triple> test) {
  KgDataset d;
  d.num_entities_ = entities;
  d.num_relations_ = relations;
  d.train_ = std::move(train);
  d.valid_ = std::move(valid);
  d.test_ = std::move(test);
  return d;
}

std::string KgDataset::entityName(int64_t id) const {
  return entity_names_.empty() ? std::to_string(id) : entity_names_.at(static_cast<size_t>(id));
}

std::string KgDataset::relationName(int64_t id) const {
  return relation_names_.empty() ? std::to_string(id) : relation_names_.at(static_cast<size_t>(id));
}

std::optional<int64_t> KgDataset::entityId(const std::string& name) const {
  if (entity_names_.empty()) {
    const auto id = parseId(name);
    return id && *id < num_entities_ ? id : std::nullopt;
  }
  const auto it = entity_ids_.find(name);
  return it == entity_ids_.end() ? std::nullopt : std::optional<int64_t>(it->second);
}

std::optional<int64_t> KgDataset::relationId(const std::string& name) const {
  if (relation_names_.empty()) {
    const auto id = parseId(name);
    return id && *id < num_relations_ ? id : std::nullopt;
  }
  const auto it = relation_ids_.find(name);
  return it == relation_ids_.end() ? std::nullopt : std::optional<int64_t>(it->second);
}

FilterIndex::FilterIndex(int64_t relations, const std::vector<const std::vector<Triple>*>& splits)
    : relations2_(2 * relations) {
  std::vector<std::pair<uint64_t, int64_t>> pairs;
  for (const auto* s : splits) {
    for (const Triple& t : *s) {
      pairs.emplace_back(static_cast<uint64_t>(t.head * relations2_ + t.relation), t.tail);
      pairs.emplace_back(static_cast<uint64_t>(t.tail * relations2_ + t.relation + relations), t.head);
    }
  }
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
  keys_.reserve(pairs.size());
  values_.reserve(pairs.size());
  for (const auto& [k, v] : pairs) {
    keys_.push_back(k);
    values_.push_back(v);
  }
}

std::pair<const int64_t*, const int64_t*> FilterIndex::answers(int64_t anchor, int64_t rel) const {
  const uint64_t key = static_cast<uint64_t>(anchor * relations2_ + rel);
  const auto lo = std::lower_bound(keys_.begin(), keys_.end(), key);
  const auto hi = std::upper_bound(lo, keys_.end(), key);
  return {values_.data() + (lo - keys_.begin()), values_.data() + (hi - keys_.begin())};
}

}  // namespace autoglm::core::kg
