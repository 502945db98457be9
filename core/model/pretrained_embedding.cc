#include "core/model/pretrained_embedding.h"

#include <ATen/Functions.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <unordered_map>

#include "core/semantic/wordnet.h"
#include "core/text/vocab.h"

namespace autoglm::core::model {
namespace {

constexpr size_t kMaxRelated = 5;
constexpr size_t kMaxTrigramNeighbours = 3;
constexpr double kMinJaccard = 0.4;

bool isConcept(const std::string& t) { return t.size() > 3 && t.compare(0, 3, "wn:") == 0; }

std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// Character trigrams of "<word>", each once.
std::vector<std::string> trigrams(const std::string& word) {
  const std::string w = "<" + word + ">";
  std::vector<std::string> out;
  for (size_t i = 0; i + 3 <= w.size(); ++i) out.push_back(w.substr(i, 3));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

class TableBuilder {
 public:
  TableBuilder(const std::vector<std::string>& tokens, const text::WordVectors& vectors)
      : tokens_(tokens), vectors_(vectors), dim_(vectors.dim()),
        rows_(tokens.size() * static_cast<size_t>(vectors.dim()), 0.0f), filled_(tokens.size(), 0) {}

  float* row(size_t i) { return rows_.data() + i * static_cast<size_t>(dim_); }

  // Adds word's vector (or, for a collocation, the mean of its parts') to acc.
  bool addWord(const std::string& word, std::vector<float>* acc) {
    std::vector<float> v(static_cast<size_t>(dim_));
    if (vectors_.lookup(word, v.data()) || vectors_.lookup(lower(word), v.data())) {
      for (int64_t d = 0; d < dim_; ++d) (*acc)[static_cast<size_t>(d)] += v[static_cast<size_t>(d)];
      return true;
    }
    if (word.find('_') == std::string::npos) return false;
    std::vector<float> parts(static_cast<size_t>(dim_), 0.0f);
    int n = 0;
    size_t start = 0;
    while (start <= word.size()) {
      const size_t end = std::min(word.find('_', start), word.size());
      const std::string part = lower(word.substr(start, end - start));
      if (!part.empty() && vectors_.lookup(part, v.data())) {
        for (int64_t d = 0; d < dim_; ++d) parts[static_cast<size_t>(d)] += v[static_cast<size_t>(d)];
        ++n;
      }
      start = end + 1;
    }
    if (n == 0) return false;
    for (int64_t d = 0; d < dim_; ++d) (*acc)[static_cast<size_t>(d)] += parts[static_cast<size_t>(d)] / n;
    return true;
  }

  // Row i = the mean of the vectors of `words` (at most `limit` found); false when none has one.
  bool meanOf(size_t i, const std::vector<std::string>& words, size_t limit) {
    std::vector<float> acc(static_cast<size_t>(dim_), 0.0f);
    size_t n = 0;
    for (const auto& w : words) {
      if (n >= limit) break;
      if (addWord(w, &acc)) ++n;
    }
    if (n == 0) return false;
    for (int64_t d = 0; d < dim_; ++d) row(i)[d] = acc[static_cast<size_t>(d)] / static_cast<float>(n);
    filled_[i] = 1;
    return true;
  }

  void exactPass(PretrainedTable* out) {
    for (size_t i = text::Vocab::kNumReserved; i < tokens_.size(); ++i) {
      if (isConcept(tokens_[i])) continue;
      if (vectors_.lookup(tokens_[i], row(i))) {
        filled_[i] = 2;
        ++out->found;
      }
    }
  }

  void conceptPass(PretrainedTable* out) {
    const bool any = std::any_of(tokens_.begin(), tokens_.end(), isConcept);
    if (!any) return;
    const semantic::WordNet& wn = semantic::WordNet::instance();
    for (size_t i = text::Vocab::kNumReserved; i < tokens_.size(); ++i) {
      if (isConcept(tokens_[i]) && meanOf(i, wn.synsetWords(tokens_[i]), 1000)) ++out->concepts;
    }
  }

  void wordnetPass(PretrainedTable* out) {
    const semantic::WordNet& wn = semantic::WordNet::instance();
    for (size_t i = text::Vocab::kNumReserved; i < tokens_.size(); ++i) {
      if (filled_[i] || isConcept(tokens_[i])) continue;
      if (meanOf(i, wn.relatedWords(tokens_[i], 2), kMaxRelated)) ++out->wordnet;
    }
  }

  // Against the vocabulary's own words that came from the file.
  void trigramPass(PretrainedTable* out) {
    std::unordered_map<std::string, std::vector<uint32_t>> index;
    std::vector<uint32_t> sizes(tokens_.size(), 0);
    for (size_t i = text::Vocab::kNumReserved; i < tokens_.size(); ++i) {
      if (filled_[i] != 2) continue;
      const auto grams = trigrams(tokens_[i]);
      sizes[i] = static_cast<uint32_t>(grams.size());
      for (const auto& g : grams) index[g].push_back(static_cast<uint32_t>(i));
    }
    std::unordered_map<uint32_t, uint32_t> shared;
    for (size_t i = text::Vocab::kNumReserved; i < tokens_.size(); ++i) {
      if (filled_[i] || isConcept(tokens_[i])) continue;
      const auto grams = trigrams(tokens_[i]);
      shared.clear();
      for (const auto& g : grams) {
        auto it = index.find(g);
        if (it == index.end()) continue;
        for (uint32_t c : it->second) ++shared[c];
      }
      std::vector<std::pair<double, uint32_t>> best;
      for (auto [c, n] : shared) {
        const double jac = static_cast<double>(n) / static_cast<double>(grams.size() + sizes[c] - n);
        if (jac >= kMinJaccard) best.emplace_back(-jac, c);
      }
      if (best.empty()) continue;
      const size_t k = std::min(best.size(), kMaxTrigramNeighbours);
      std::partial_sort(best.begin(), best.begin() + static_cast<std::ptrdiff_t>(k), best.end());
      std::vector<std::string> words;
      for (size_t j = 0; j < k; ++j) words.push_back(tokens_[best[j].second]);
      if (meanOf(i, words, k)) ++out->subword;
    }
  }

  // The rest: N(0, std of the file's rows).
  void randomPass(uint64_t seed, PretrainedTable* out) {
    double sum = 0, sq = 0;
    int64_t n = 0;
    for (size_t i = 0; i < tokens_.size(); ++i) {
      if (filled_[i] != 2) continue;
      for (int64_t d = 0; d < dim_; ++d) {
        sum += row(i)[d];
        sq += static_cast<double>(row(i)[d]) * row(i)[d];
        ++n;
      }
    }
    const double mean = n ? sum / n : 0.0;
    const double sd = n > 1 ? std::sqrt(std::max(0.0, sq / n - mean * mean)) : 0.1;
    std::mt19937_64 gen(seed);
    std::normal_distribution<float> normal(0.0f, static_cast<float>(sd));
    for (size_t i = 0; i < tokens_.size(); ++i) {
      if (filled_[i]) continue;
      for (int64_t d = 0; d < dim_; ++d) row(i)[d] = normal(gen);
      ++out->random;
    }
  }

  void finish(double scale, PretrainedTable* out) {
    const auto v = static_cast<int64_t>(tokens_.size());
    out->table = at::from_blob(rows_.data(), {v, dim_}, at::kFloat).clone();
    if (scale != 1.0) out->table.mul_(scale);
    out->from_file = at::zeros({v}, at::kBool);
    for (int64_t i = 0; i < v; ++i) {
      if (filled_[static_cast<size_t>(i)] == 2) out->from_file[i] = true;
    }
  }

 private:
  const std::vector<std::string>& tokens_;
  const text::WordVectors& vectors_;
  int64_t dim_;
  std::vector<float> rows_;
  std::vector<uint8_t> filled_;  // 0 empty, 1 derived, 2 from the file
};

}  // namespace

std::string PretrainedTable::describe() const {
  const int64_t total = found + concepts + wordnet + subword + random;
  return fmt::format("{} of {} tokens from the file ({:.1f}%), {} concepts from their lemmas, {} from WordNet "
                     "neighbours, {} from trigram neighbours, {} random",
                     found, total, total ? 100.0 * static_cast<double>(found) / static_cast<double>(total) : 0.0,
                     concepts, wordnet, subword, random);
}

PretrainedTable pretrainedTable(const std::vector<std::string>& vocab_tokens, const text::WordVectors& vectors,
                                const PretrainedOptions& opts) {
  PretrainedTable out;
  TableBuilder b(vocab_tokens, vectors);
  b.exactPass(&out);
  b.conceptPass(&out);
  if (opts.oov == OovInit::kNeighbours) {
    b.wordnetPass(&out);
    b.trigramPass(&out);
  }
  b.randomPass(opts.seed, &out);
  b.finish(opts.scale, &out);
  return out;
}

}  // namespace autoglm::core::model
