#pragma once
// Senses and hypernyms of English words from WordNet 3.0 (the C library of
// wordnet-dev over the database of wordnet-base).

#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace autoglm::core::semantic {

// Concept nodes of one word. A synset key is "wn:<pos>:<offset>": pos is n
// (noun) or v (verb), offset the synset's 8-digit byte offset in WordNet 3.0's
// data file (dog, sense 1: "wn:n:02084071").
struct Concepts {
  // The word's first max_senses senses per part of speech, nouns then verbs,
  // each in WordNet's order (most frequent first), no key twice.
  std::vector<std::string> senses;
  // (child, parent) pairs: direct hypernyms (and instance hypernyms) of the
  // senses, of those, and so on up to hypernym_depth levels above a sense;
  // breadth first, no pair twice.
  std::vector<std::pair<std::string, std::string>> hypernyms;
};

// The process-wide WordNet database (the C library keeps its open files and
// buffers in globals, so there is exactly one).
enum class PartOfSpeech { kNoun, kVerb, kAdjective };

class WordNet {
 public:
  // Opens the database on the first call (wninit); throws DataError with an
  // install hint if it is missing. Later calls return the same object.
  static const WordNet& instance();

  // Senses are found for the word itself if WordNet lists it, then for each
  // base form morphstr() gives ("dogs" -> "dog", "running" -> "run" as a
  // verb). The word is lower-cased and spaces become underscores
  // (collocations: "new york" -> "new_york"). Empty words, words without a
  // letter (numbers), words with characters other than ASCII letters, digits
  // and ' - . _ (so any non-ASCII byte), words over 80 bytes, max_senses <= 0
  // or a word WordNet does not know give empty Concepts; hypernym_depth <= 0
  // gives senses only.
  //
  // Thread-safe: every call into the C library holds one mutex, so lookups
  // from several threads run one at a time. Code outside this class must not
  // call the WordNet C library itself.
  Concepts lookup(const std::string& word, int max_senses, int hypernym_depth) const;

  // Words that stand in for `word` (word vectors for a word without one):
  // its base forms for nouns, verbs, adjectives and adverbs ("companies" ->
  // "company"), then the other lemmas of its first max_senses senses per part
  // of speech (synonyms), in that order, each once, `word` itself excluded.
  // Collocations keep WordNet's underscores ("new_york"). Same word rules and
  // locking as lookup().
  std::vector<std::string> relatedWords(const std::string& word, int max_senses) const;

  // The dictionary form of `word` as a noun, verb or adjective: its first base form
  // from WordNet's morphology, exceptions included ("companies" -> "company",
  // "banks" -> "bank", "sold" -> "sell", "is" -> "be", "found" -> "find"),
  // else the word itself if WordNet lists it for that part of speech ("news").
  // Empty when WordNet has neither, and for words lookup() would not look up.
  // Same locking as lookup().
  std::string baseForm(const std::string& word, PartOfSpeech pos) const;

  // The lemmas of a synset named by its key ("wn:n:02084071" -> dog,
  // domestic_dog, Canis_familiaris), in WordNet's order; none for a key that
  // does not name a synset.
  std::vector<std::string> synsetWords(const std::string& key) const;

 private:
  WordNet();
  WordNet(const WordNet&) = delete;
  WordNet& operator=(const WordNet&) = delete;

  mutable std::mutex mu_;
};

}  // namespace autoglm::core::semantic
