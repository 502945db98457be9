#include "core/text/vocab.h"

#include <algorithm>
#include <fstream>

#include "core/error.h"
#include "core/hash.h"

namespace autoglm::core::text {

Vocab::Vocab() { assign({"<pad>", "<unk>", "<doc>"}); }

void Vocab::assign(std::vector<std::string> tokens) {
  tokens_ = std::move(tokens);
  index_.clear();
  index_.reserve(tokens_.size());
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (!index_.emplace(tokens_[i], static_cast<int64_t>(i)).second) {
      throw DataError("vocabulary has duplicate token '" + tokens_[i] + "' at id " + std::to_string(i));
    }
  }
}

Vocab Vocab::fromTokens(std::vector<std::string> tokens) {
  Vocab v;
  v.assign(std::move(tokens));
  return v;
}

Vocab Vocab::build(const std::vector<std::vector<std::string>>& docs, const VocabConfig& cfg,
                   const HasVector& has_vector, const std::vector<std::vector<std::string>>& other_docs) {
  std::unordered_map<std::string, int64_t> counts;
  for (const auto& doc : docs) {
    for (const auto& t : doc) ++counts[t];
  }
  auto reserved = [](const std::string& t) { return t == "<pad>" || t == "<unk>" || t == "<doc>"; };
  std::vector<std::pair<std::string, int64_t>> items;
  items.reserve(counts.size());
  for (auto& [tok, c] : counts) {
    if (!reserved(tok) && (c >= cfg.min_count || (has_vector && has_vector(tok)))) items.emplace_back(tok, c);
  }
  std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  std::vector<std::string> unseen;
  if (has_vector) {
    std::unordered_map<std::string, bool> checked;
    for (const auto& doc : other_docs) {
      for (const auto& t : doc) {
        if (counts.count(t) || reserved(t) || !checked.emplace(t, true).second) continue;
        if (has_vector(t)) unseen.push_back(t);
      }
    }
    std::sort(unseen.begin(), unseen.end());
  }
  std::vector<std::string> tokens{"<pad>", "<unk>", "<doc>"};
  auto full = [&] { return cfg.max_size > 0 && static_cast<int64_t>(tokens.size()) >= cfg.max_size; };
  for (auto& [tok, c] : items) {
    if (full()) break;
    tokens.push_back(tok);
  }
  for (auto& tok : unseen) {
    if (full()) break;
    tokens.push_back(tok);
  }
  return fromTokens(std::move(tokens));
}

int64_t Vocab::id(std::string_view token) const {
  auto it = index_.find(std::string(token));
  return it == index_.end() ? kUnk : it->second;
}

const std::string& Vocab::token(int64_t id) const {
  AUTOGLM_CHECK(id >= 0 && id < size(), "token id ", id, " out of range [0, ", size(), ")");
  return tokens_[static_cast<size_t>(id)];
}

std::vector<int64_t> Vocab::encode(const std::vector<std::string>& tokens) const {
  std::vector<int64_t> ids;
  ids.reserve(tokens.size());
  for (const auto& t : tokens) ids.push_back(id(t));
  return ids;
}

void Vocab::save(const std::string& path) const {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw DataError(path + ": cannot open for writing");
  for (const auto& t : tokens_) out << t << '\n';
  if (!out) throw DataError(path + ": write failed");
}

Vocab Vocab::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot open vocabulary file");
  std::vector<std::string> tokens;
  std::string line;
  while (std::getline(in, line)) tokens.push_back(line);
  if (tokens.size() < static_cast<size_t>(kNumReserved) || tokens[kPad] != "<pad>" ||
      tokens[kUnk] != "<unk>" || tokens[kDoc] != "<doc>") {
    throw DataError(path + ": not a vocabulary file (reserved tokens missing)");
  }
  return fromTokens(std::move(tokens));
}

uint64_t Vocab::fingerprint() const {
  Fnv1a h;
  for (const auto& t : tokens_) {
    h.add(t.data(), t.size());
    h.add("\n", 1);
  }
  return h.value();
}

}  // namespace autoglm::core::text
