#include "core/semantic/triple_extractor.h"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <unordered_set>

#include "core/semantic/wordnet.h"

namespace autoglm::core::semantic {
namespace {

// Pronouns, determiners used as nouns, and other words that name nothing.
const std::unordered_set<std::string>& stopWords() {
  static const std::unordered_set<std::string> words{
      "i", "me", "my", "mine", "you", "your", "yours", "he", "him", "his", "she", "her", "hers", "it",
      "its", "we", "us", "our", "ours", "they", "them", "their", "theirs", "this", "that", "these",
      "those", "what", "which", "who", "whom", "whose", "everything", "something", "anything",
      "nothing", "everyone", "someone", "anyone", "everybody", "somebody", "anybody", "nobody",
      "one", "ones", "all", "each", "both", "either", "neither", "none", "other", "others",
      "another", "some", "any", "such", "there", "here", "myself", "yourself", "himself",
      "herself", "itself", "ourselves", "themselves", "'s", "s", "a", "an", "the", "and", "or",
      "but", "nor", "of", "to", "in", "on", "at", "by", "for", "with", "from", "as", "than",
      "more", "most", "much", "many", "few", "lot", "lots", "plenty", "enough", "way", "thing",
      "things", "reuter", "vs", "mths", "qtr", "avg",
      // number words
      "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
      "twenty", "hundred", "dozen", "first", "second", "third", "half",
      // time words
      "year", "years", "month", "months", "week", "weeks", "day", "days", "quarter", "quarters",
      "today", "yesterday", "tomorrow", "time", "times", "monday", "tuesday", "wednesday",
      "thursday", "friday", "saturday", "sunday", "january", "february", "march", "april", "may",
      "june", "july", "august", "september", "october", "november", "december", "jan", "feb",
      "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"};
  return words;
}

// Words that stand for "X" in "<word> of X" (measures, "kind of"); alone,
// measures name nothing while kind/type/number name themselves.
const std::unordered_set<std::string>& measureWords() {
  static const std::unordered_set<std::string> words{
      "pct", "percent", "mln", "million", "billion", "thousand", "dlrs", "dlr", "dollars", "cts",
      "ct", "cents", "shr", "shrs", "yards", "yard", "tonnes", "tons", "barrels", "bbl"};
  return words;
}
const std::unordered_set<std::string>& kindWords() {
  static const std::unordered_set<std::string> words{"kind", "kinds", "type", "types", "sort",
                                                     "sorts", "number", "handful", "lot", "lots"};
  return words;
}

bool hasLetter(const std::string& w) {
  return std::any_of(w.begin(), w.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); });
}

// The leading capitals of a link label: "Ss*s" -> "S", "MVp" -> "MV".
std::string linkHead(const std::string& type) {
  size_t n = 0;
  while (n < type.size() && std::isupper(static_cast<unsigned char>(type[n]))) ++n;
  return type.substr(0, n);
}

// Whether label matches a pattern: the same head, and the label starts with
// the pattern ("Pv" matches "Pvf" but not "Pa"; "S" matches "Ss*s", not "SJl").
bool matches(const std::string& type, const std::string& pattern) {
  return linkHead(type) == linkHead(pattern) && type.compare(0, pattern.size(), pattern) == 0;
}

struct Arc {
  int32_t other;
  bool to_right;  // other lies right of this word
  std::string type;
};

// The words of a document and its links, per word.
struct Graph {
  std::vector<std::string> words;
  std::vector<std::vector<Arc>> arcs;

  Graph(std::vector<std::string> w, const std::vector<SyntaxLink>& links)
      : words(std::move(w)), arcs(words.size()) {
    for (const SyntaxLink& l : links) {
      if (l.left < 0 || l.right < 0 || static_cast<size_t>(l.right) >= words.size()) continue;
      arcs[static_cast<size_t>(l.left)].push_back(Arc{l.right, true, l.type});
      arcs[static_cast<size_t>(l.right)].push_back(Arc{l.left, false, l.type});
    }
  }
  const std::string& word(int32_t i) const { return words[static_cast<size_t>(i)]; }
  // Words linked to i on the given side by a label matching pattern.
  std::vector<int32_t> linked(int32_t i, bool right, const std::string& pattern) const {
    std::vector<int32_t> out;
    for (const Arc& a : arcs[static_cast<size_t>(i)]) {
      if (a.to_right == right && matches(a.type, pattern)) out.push_back(a.other);
    }
    return out;
  }
};

// The conjuncts a coordinating word stands for (SJ for nouns, VJ for verbs),
// nested coordinations flattened; the word itself when it coordinates nothing.
std::vector<int32_t> conjuncts(const Graph& g, int32_t w, const std::string& join, int depth = 0) {
  std::vector<int32_t> parts = g.linked(w, false, join + "l");
  for (int32_t r : g.linked(w, true, join + "r")) parts.push_back(r);
  if (parts.empty() || depth > 4) return {w};
  std::vector<int32_t> out;
  for (int32_t p : parts) {
    for (int32_t q : conjuncts(g, p, join, depth + 1)) out.push_back(q);
  }
  return out;
}

// Names entities and relations by their WordNet base forms.
class Namer {
 public:
  explicit Namer(const Graph& g) : g_(g), wn_(WordNet::instance()) {}

  std::string entity(int32_t n, int depth = 0) const {
    const std::string& w = g_.word(n);
    if ((measureWords().count(w) != 0 || kindWords().count(w) != 0) && depth < 3) {
      for (int32_t of : g_.linked(n, true, "M")) {
        if (g_.word(of) != "of") continue;
        for (int32_t x : g_.linked(of, true, "J")) return entity(x, depth + 1);
      }
      if (measureWords().count(w) != 0) return "";
    }
    if (!isName(w) || measureWords().count(w) != 0) return "";
    // An adjective or verb Link Grammar linked as a noun ("the characters are
    // interesting", "includes" in unpunctuated text); words WordNet does not
    // know at all (names) stay.
    if (wn_.baseForm(w, PartOfSpeech::kNoun).empty() && (!wn_.baseForm(w, PartOfSpeech::kAdjective).empty() ||
                                                         !wn_.baseForm(w, PartOfSpeech::kVerb).empty())) {
      return "";
    }
    std::vector<int32_t> mods;
    collectModifiers(n, &mods, 0);
    std::sort(mods.begin(), mods.end());
    std::string out;
    const bool name = wn_.baseForm(w, PartOfSpeech::kNoun).empty();
    for (int32_t m : mods) {
      const std::string& mw = g_.word(m);
      if (isPossessor(m) || (name && !wn_.baseForm(mw, PartOfSpeech::kNoun).empty())) {
        // "the kingdom s commitment": the possessor and what precedes it go;
        // so do the common nouns before a name ("oil minister hisham nazer").
        out.clear();
      } else if (isName(mw) && measureWords().count(mw) == 0 &&
                 (mw.find('-') == std::string::npos || !wn_.baseForm(mw, PartOfSpeech::kNoun).empty())) {
        out += mw + "_";  // a hyphenated word WordNet has no noun for is an adjective (eye-popping)
      }
    }
    return out + headLemma(w);
  }

  // The relation of verb v: its WordNet base form, then "_particle"; empty
  // when WordNet does not know the word as a verb (a noun Link Grammar took
  // for a verb in unpunctuated text).
  std::string verb(int32_t v) const {
    const std::string& w = g_.word(v);
    std::string out = w == "'s" || w == "'re" || w == "'m" ? "be" : w == "'ve" ? "have" : "";
    if (out.empty() && measureWords().count(w) == 0) out = wn_.baseForm(w, PartOfSpeech::kVerb);
    if (out.empty()) return "";
    for (int32_t k : g_.linked(v, true, "K")) out += "_" + g_.word(k);
    return out;
  }

 private:
  // The noun base form; for a hyphenated word WordNet does not know, that of
  // its last part (multi-layers -> multi-layer); else the word.
  std::string headLemma(const std::string& w) const {
    std::string base = wn_.baseForm(w, PartOfSpeech::kNoun);
    if (!base.empty()) return base;
    const size_t dash = w.rfind('-');
    if (dash != std::string::npos && dash + 1 < w.size()) {
      base = wn_.baseForm(w.substr(dash + 1), PartOfSpeech::kNoun);
      if (!base.empty()) return w.substr(0, dash + 1) + base;
    }
    return w;
  }

  // A possessor: followed by the "s" of unpunctuated text or by "'s".
  bool isPossessor(int32_t m) const {
    const size_t next = static_cast<size_t>(m) + 1;
    return next < g_.words.size() && (g_.words[next] == "s" || g_.words[next] == "'s");
  }

  static bool isName(const std::string& w) {
    return w.size() >= 2 && hasLetter(w) && stopWords().count(w) == 0;
  }

  // Nouns of a compound in front of n: AN (noun modifier) and G (proper name
  // parts) links, and theirs.
  void collectModifiers(int32_t n, std::vector<int32_t>* out, int depth) const {
    if (depth > 6) return;
    for (const char* p : {"AN", "G"}) {
      for (int32_t m : g_.linked(n, false, p)) {
        out->push_back(m);
        collectModifiers(m, out, depth + 1);
      }
    }
  }

  const Graph& g_;
  const WordNet& wn_;
};

// A finite verb and the auxiliaries, modals and raising verbs down to the
// verb that carries the meaning: "has been sold" -> sold, passive.
struct Chain {
  int32_t main = -1;
  bool passive = false;
  bool negated = false;
};

bool isNegation(const std::string& w) {
  return w == "not" || w == "never" || w == "cannot" ||
         (w.size() > 3 && w.compare(w.size() - 3, 3, "n't") == 0);
}

Chain followChain(const Graph& g, int32_t v) {
  Chain c;
  c.main = v;
  for (int step = 0; step < 8; ++step) {
    if (isNegation(g.word(c.main))) c.negated = true;
    for (const Arc& a : g.arcs[static_cast<size_t>(c.main)]) c.negated = c.negated || isNegation(g.word(a.other));
    int32_t next = -1;
    for (const char* p : {"PP", "Pv", "Pg", "I", "IV"}) {
      const std::vector<int32_t> r = g.linked(c.main, true, p);
      if (r.empty()) continue;
      next = r.front();
      c.passive = c.passive || std::string(p) == "Pv";
      if (std::string(p) == "Pg") c.passive = false;
      break;
    }
    if (next < 0) {
      for (int32_t to : g.linked(c.main, true, "TO")) {
        const std::vector<int32_t> r = g.linked(to, true, "I");
        if (!r.empty()) next = r.front();
      }
    }
    if (next < 0) break;
    c.main = next;
  }
  return c;
}

// Collects the triples of one document's links.
class Reader {
 public:
  Reader(const Graph& g, std::vector<Triple>* out) : g_(g), names_(g), out_(out) {}

  void read() {
    for (int32_t w = 0; w < static_cast<int32_t>(g_.words.size()); ++w) {
      for (int32_t v : g_.linked(w, true, "S")) clause(subjects(w), v, 0);
      // "characters who defy sympathy": R to the relative pronoun, RS on to the verb.
      for (int32_t rel : g_.linked(w, true, "R")) {
        for (int32_t v : g_.linked(rel, true, "RS")) clause(subjects(w), v, 0);
      }
      // "a film marred by a blunder": a participle modifying a noun.
      for (int32_t part : g_.linked(w, true, "Mv")) {
        for (const std::string& agent : prepObjects(part, "by")) {
          for (const std::string& s : subjects(w)) add(agent, names_.verb(part), s);
        }
      }
    }
  }

 private:
  std::vector<std::string> subjects(int32_t w) const {
    std::vector<std::string> out;
    for (int32_t c : conjuncts(g_, w, "SJ")) {
      std::string name = names_.entity(c);
      if (!name.empty()) out.push_back(std::move(name));
    }
    return out;
  }

  // Entities reached from word v through the preposition prep (MVp + J).
  std::vector<std::string> prepObjects(int32_t v, const std::string& prep) const {
    std::vector<std::string> out;
    for (int32_t p : g_.linked(v, true, "MVp")) {
      if (g_.word(p) != prep) continue;
      for (int32_t j : g_.linked(p, true, "J")) {
        for (const std::string& o : subjects(j)) out.push_back(o);
      }
    }
    return out;
  }

  void clause(const std::vector<std::string>& subj, int32_t verb, int depth) {
    if (subj.empty() || depth > 2) return;
    for (int32_t v : conjuncts(g_, verb, "VJ")) {
      const Chain c = followChain(g_, v);
      if (c.negated) continue;
      const std::string rel = names_.verb(c.main);
      if (rel.empty()) continue;
      if (c.passive) {
        for (const std::string& agent : prepObjects(c.main, "by")) {
          for (const std::string& s : subj) add(agent, rel, s);
        }
        continue;
      }
      std::vector<int32_t> objects = g_.linked(c.main, true, "O");
      if (v != verb) {
        for (int32_t o : g_.linked(verb, true, "O")) objects.push_back(o);
      }
      for (int32_t o : objects) {
        for (const std::string& on : subjects(o)) {
          for (const std::string& s : subj) add(s, rel, on);
        }
      }
      const int32_t clause_at = nextClause(c.main);
      for (int32_t p : g_.linked(c.main, true, "MVp")) {
        if (p > clause_at) continue;
        for (int32_t j : g_.linked(p, true, "J")) {
          for (const std::string& on : subjects(j)) {
            for (const std::string& s : subj) add(s, rel + "_" + g_.word(p), on);
          }
        }
      }
      // A purpose clause: "... to expand its portfolio", same subject.
      for (int32_t to : g_.linked(c.main, true, "MVi")) {
        for (int32_t v2 : g_.linked(to, true, "I")) clause(subj, v2, depth + 1);
      }
    }
  }

  // Where the next clause after verb v starts: a clausal complement ("said
  // [that] the bank ...") or any later finite verb. Link Grammar hangs
  // prepositional phrases of a clause it could not link on a verb before it;
  // those past that point are not taken as the verb's.
  int32_t nextClause(int32_t v) const {
    auto at = static_cast<int32_t>(g_.words.size());
    for (const char* p : {"C", "CV", "Ce", "TH", "TO", "MVs", "MVi"}) {
      for (int32_t w : g_.linked(v, true, p)) at = std::min(at, w);
    }
    for (int32_t w = v + 1; w < at; ++w) {
      if (!g_.linked(w, false, "S").empty()) at = w;
    }
    return at;
  }

  void add(const std::string& h, const std::string& r, const std::string& t) {
    if (h.empty() || r.empty() || t.empty() || h == t) return;
    Triple tr{h, r, t};
    if (std::find(out_->begin(), out_->end(), tr) == out_->end()) out_->push_back(std::move(tr));
  }

  const Graph& g_;
  Namer names_;
  std::vector<Triple>* out_;
};

bool endsSentence(const std::string& t) {
  if (t == "!" || t == "?" || t == ";") return true;
  return !t.empty() && std::all_of(t.begin(), t.end(), [](char c) { return c == '.'; });
}

bool keepToken(const std::string& t) {
  if (t == ",") return true;
  return std::any_of(t.begin(), t.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); });
}

}  // namespace

TripleExtractor::TripleExtractor(ExtractOptions opts) : parser_(opts.parse) {
  WordNet::instance();  // fail early when the database is missing
}

std::vector<std::vector<std::string>> TripleExtractor::splitSentences(const std::string& text) {
  std::vector<std::vector<std::string>> out(1);
  std::istringstream in(text);
  for (std::string t; in >> t;) {
    if (endsSentence(t)) {
      if (!out.back().empty()) out.emplace_back();
      continue;
    }
    if (!keepToken(t)) continue;
    for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    // "life's" -> "life" "'s", so that Link Grammar sees the verb or possessive.
    if (t.size() > 2 && t.compare(t.size() - 2, 2, "'s") == 0) {
      out.back().push_back(t.substr(0, t.size() - 2));
      t = "'s";
    }
    out.back().push_back(std::move(t));
  }
  if (out.back().empty()) out.pop_back();
  return out;
}

std::vector<Triple> TripleExtractor::extract(const std::string& text, ExtractStats* stats) const {
  const std::vector<std::vector<std::string>> sentences = splitSentences(text);
  ParseStats parse_stats;
  const std::vector<SyntaxLink> links = parser_.parse(sentences, &parse_stats);
  std::vector<std::string> words;
  for (const auto& s : sentences) words.insert(words.end(), s.begin(), s.end());
  const Graph graph(std::move(words), links);
  std::vector<Triple> out;
  Reader(graph, &out).read();
  if (stats != nullptr) {
    stats->sentences += static_cast<int64_t>(sentences.size());
    stats->triples += static_cast<int64_t>(out.size());
    stats->parse.windows += parse_stats.windows;
    stats->parse.linked += parse_stats.linked;
    stats->parse.timed_out += parse_stats.timed_out;
    stats->parse.unparsed += parse_stats.unparsed;
  }
  return out;
}

}  // namespace autoglm::core::semantic
