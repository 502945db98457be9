#include "core/semantic/wordnet.h"

#include <wn.h>

#include <cctype>
#include <cstdio>
#include <unordered_set>

#include "core/error.h"

namespace autoglm::core::semantic {
namespace {

constexpr size_t kMaxWordBytes = 80;

// Messages of the C library (display_message) while it is opened; afterwards
// they are dropped.
std::string* g_init_messages = nullptr;

int quietMessage(char* msg) {
  if (g_init_messages != nullptr && msg != nullptr) *g_init_messages += msg;
  return 0;
}

char posChar(int pos) {
  switch (pos) {
    case NOUN: return 'n';
    case VERB: return 'v';
    case ADJ: return 'a';
    case ADV: return 'r';
    default: return 's';
  }
}

std::string synsetKey(int pos, long offset) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "wn:%c:%08ld", posChar(pos), offset);
  return buf;
}

// The form looked up in WordNet, or "" if the word is not one to look up.
std::string normalise(const std::string& word) {
  if (word.empty() || word.size() > kMaxWordBytes) return "";
  std::string out;
  bool has_letter = false;
  for (char ch : word) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalpha(c) && c < 0x80) {
      has_letter = true;
      out += static_cast<char>(std::tolower(c));
    } else if ((std::isdigit(c) && c < 0x80) || c == '\'' || c == '-' || c == '.' || c == '_') {
      out += ch;
    } else if (c == ' ') {
      out += '_';
    } else {
      return "";
    }
  }
  return has_letter ? out : "";
}

// The word itself if WordNet lists it for pos, then its base forms.
// Caller holds the mutex.
std::vector<std::string> lemmas(const std::string& word, int pos) {
  std::vector<std::string> out;
  std::vector<char> buf(word.begin(), word.end());
  buf.push_back('\0');
  if (IndexPtr idx = index_lookup(buf.data(), pos)) {
    out.push_back(word);
    free_index(idx);
  }
  for (char* base = morphstr(buf.data(), pos); base != nullptr; base = morphstr(nullptr, pos)) {
    std::string b(base);
    bool seen = false;
    for (const auto& o : out) seen = seen || o == b;
    if (!seen) out.push_back(b);
  }
  return out;
}

struct Node {
  int pos;
  long offset;
  std::string key;
};

// The synset offsets of a lemma's senses for pos, most frequent first.
// Caller holds the mutex.
std::vector<long> senseOffsets(const std::string& lemma, int pos) {
  std::vector<long> out;
  std::vector<char> buf(lemma.begin(), lemma.end());
  buf.push_back('\0');
  IndexPtr idx = index_lookup(buf.data(), pos);
  if (idx == nullptr) return out;
  for (int i = 0; i < idx->off_cnt; ++i) out.push_back(static_cast<long>(idx->offset[i]));
  free_index(idx);
  return out;
}

// Appends up to max_senses senses of word for pos to out and frontier.
void addSenses(const std::string& word, int pos, int max_senses, Concepts* out,
               std::vector<Node>* frontier, std::unordered_set<std::string>* seen) {
  int taken = 0;
  for (const std::string& lemma : lemmas(word, pos)) {
    for (long offset : senseOffsets(lemma, pos)) {
      if (taken >= max_senses) break;
      std::string key = synsetKey(pos, offset);
      if (!seen->insert(key).second) continue;
      out->senses.push_back(key);
      frontier->push_back(Node{pos, offset, key});
      ++taken;
    }
    if (taken >= max_senses) break;
  }
}

// Direct (instance) hypernyms of one synset.
std::vector<Node> parents(const Node& n) {
  std::vector<Node> out;
  char empty[1] = {'\0'};
  SynsetPtr ss = read_synset(n.pos, n.offset, empty);
  if (ss == nullptr) return out;
  for (int p = 0; p < ss->ptrcount; ++p) {
    if (ss->ptrtyp[p] != HYPERPTR && ss->ptrtyp[p] != INSTANCE) continue;
    out.push_back(Node{ss->ppos[p], ss->ptroff[p], synsetKey(ss->ppos[p], ss->ptroff[p])});
  }
  free_synset(ss);
  return out;
}

// Breadth first from all senses at once, so each synset is expanded once, at
// its smallest distance from a sense.
void addHypernyms(std::vector<Node> frontier, int depth, Concepts* out,
                  std::unordered_set<std::string>* expanded) {
  std::unordered_set<std::string> pairs;
  for (int level = 0; level < depth && !frontier.empty(); ++level) {
    std::vector<Node> next;
    for (const Node& child : frontier) {
      for (Node& parent : parents(child)) {
        if (pairs.insert(child.key + ' ' + parent.key).second) {
          out->hypernyms.emplace_back(child.key, parent.key);
        }
        if (expanded->insert(parent.key).second) next.push_back(std::move(parent));
      }
    }
    frontier = std::move(next);
  }
}

// The lemmas of a synset. Caller holds the mutex.
std::vector<std::string> synsetLemmas(int pos, long offset) {
  std::vector<std::string> out;
  char empty[1] = {'\0'};
  SynsetPtr ss = read_synset(pos, offset, empty);
  if (ss == nullptr) return out;
  for (int i = 0; i < ss->wcount; ++i) out.emplace_back(ss->words[i]);
  free_synset(ss);
  return out;
}

int posOfChar(char c) {
  switch (c) {
    case 'n': return NOUN;
    case 'v': return VERB;
    case 'a': case 's': return ADJ;
    case 'r': return ADV;
    default: return 0;
  }
}

}  // namespace

WordNet::WordNet() {
  std::string messages;
  g_init_messages = &messages;
  display_message = quietMessage;
  const int rc = wninit();
  g_init_messages = nullptr;
  if (rc != 0) {
    throw DataError(detail::concat(
        "WordNet database could not be opened (wninit() = ", rc,
        messages.empty() ? "" : ": ", messages,
        "); install it with: apt-get install wordnet-base wordnet-dev, or set WNSEARCHDIR "
        "to the folder holding data.noun and index.noun"));
  }
}

const WordNet& WordNet::instance() {
  static const WordNet db;  // a throwing constructor is retried on the next call
  return db;
}

Concepts WordNet::lookup(const std::string& word, int max_senses, int hypernym_depth) const {
  Concepts out;
  const std::string w = normalise(word);
  if (w.empty() || max_senses <= 0) return out;
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Node> frontier;
  std::unordered_set<std::string> seen;
  for (int pos : {NOUN, VERB}) addSenses(w, pos, max_senses, &out, &frontier, &seen);
  addHypernyms(std::move(frontier), hypernym_depth, &out, &seen);
  return out;
}

std::vector<std::string> WordNet::relatedWords(const std::string& word, int max_senses) const {
  std::vector<std::string> out;
  const std::string w = normalise(word);
  if (w.empty()) return out;
  std::unordered_set<std::string> seen{w};
  auto add = [&](std::string x) {
    if (seen.insert(x).second) out.push_back(std::move(x));
  };
  std::lock_guard<std::mutex> lock(mu_);
  for (int pos : {NOUN, VERB, ADJ, ADV}) {
    for (std::string& base : lemmas(w, pos)) add(std::move(base));
  }
  for (int pos : {NOUN, VERB, ADJ, ADV}) {
    for (const std::string& lemma : lemmas(w, pos)) {
      const std::vector<long> offsets = senseOffsets(lemma, pos);
      for (size_t i = 0; i < offsets.size() && static_cast<int>(i) < max_senses; ++i) {
        for (std::string& syn : synsetLemmas(pos, offsets[i])) add(std::move(syn));
      }
    }
  }
  return out;
}

std::string WordNet::baseForm(const std::string& word, PartOfSpeech pos) const {
  const std::string w = normalise(word);
  if (w.empty()) return "";
  const int wn_pos = pos == PartOfSpeech::kNoun ? NOUN : pos == PartOfSpeech::kVerb ? VERB : ADJ;
  std::lock_guard<std::mutex> lock(mu_);
  const std::vector<std::string> forms = lemmas(w, wn_pos);
  if (forms.empty()) return "";
  // lemmas() puts the word itself first when it is listed; a base form wins
  // ("banks" is listed as a surname, "found" as a verb of its own).
  return forms.size() > 1 && forms[0] == w ? forms[1] : forms[0];
}

std::vector<std::string> WordNet::synsetWords(const std::string& key) const {
  // "wn:<pos>:<8 digits>"
  if (key.size() != 13 || key.compare(0, 3, "wn:") != 0 || key[4] != ':') return {};
  const int pos = posOfChar(key[3]);
  if (pos == 0) return {};
  long offset = 0;
  for (size_t i = 5; i < key.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(key[i]))) return {};
    offset = offset * 10 + (key[i] - '0');
  }
  std::lock_guard<std::mutex> lock(mu_);
  return synsetLemmas(pos, offset);
}

}  // namespace autoglm::core::semantic
