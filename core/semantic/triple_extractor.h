#pragma once
// (subject, relation, object) triples read off the Link Grammar links of a
// text, with entities and relations named by their WordNet base forms; the
// input of `autoglm extract`, which turns a corpus into a knowledge graph.

#include <cstdint>
#include <string>
#include <vector>

#include "core/semantic/link_parser.h"

namespace autoglm::core::semantic {

struct Triple {
  std::string head, relation, tail;
  bool operator==(const Triple& o) const {
    return head == o.head && relation == o.relation && tail == o.tail;
  }
};

struct ExtractOptions {
  // Unpunctuated text (R8) is parsed in windows of window_words words, so a
  // longer window keeps more clauses whole at a higher parse cost.
  ParseOptions parse{/*window_words=*/30, /*seconds_per_window=*/0.5, /*max_null_links=*/8};
};

struct ExtractStats {
  int64_t sentences = 0, triples = 0;
  ParseStats parse;
};

// Naming scheme (tests/data/kg_extract/README.md labels by the same one):
//   Entity: the head noun in its WordNet noun base form, lower-case, with the
//     nouns that modify it as a compound (Link Grammar AN links, and AN links
//     of those) in front of it, joined by '_': "world oil prices" ->
//     world_oil_price. Modifiers keep their written form; adjectives,
//     determiners, numbers and possessors are dropped. The compound is kept
//     whether or not WordNet lists it. "kind/type/lot/number of X" and
//     measures ("mln yards of debris") name X. A head WordNet does not know
//     (a name) keeps only the unknown words right before it ("oil minister
//     hisham nazer" -> hisham_nazer). Pronouns, stop words, number, measure
//     and time words, words without a letter, and words WordNet knows only
//     as adjectives or verbs are no entity.
//   Relation: the main verb's WordNet verb base form (auxiliaries and modals
//     dropped; copula "be"), then '_' + particle for a phrasal verb (suck_in),
//     then '_' + preposition for an object reached through a prepositional
//     phrase attached to the verb: "rates firmed on the outlook" ->
//     (rate, firm_on, outlook).
//
// Links used: S (subject-verb; R+RS for a relative clause's antecedent), the
// verb chain PP/Pv/Pg/I/IV (has acquired, was sold, is pursuing, will buy,
// seems to take), O (object, copula included), MVp + J (prepositional
// phrase), MVi + I (purpose "to" clause, same subject), K (particle), SJ and
// VJ (coordinated nouns and verbs give one triple per conjunct), N/"not"/
// "never"/"n't" (a negated clause gives nothing). Passive: only with a
// by-agent, as (agent, verb, subject), also for participle modifiers (Mv:
// "a film marred by a blunder"). No coreference: a pronoun subject gives no
// triple.
//
// Sentences: the text is split into words at white space and into sentences
// after a word that is ".", "!", "?", ";" or a run of dots; other tokens
// without a letter or digit are dropped, except "," which Link Grammar uses.
// Text without such punctuation (R8) stays one sentence and is parsed window
// by window (ParseOptions::window_words), so clauses that straddle a window
// edge are lost.
class TripleExtractor {
 public:
  // Loads the Link Grammar dictionary and WordNet; throws as LinkParser and
  // WordNet::instance() do.
  explicit TripleExtractor(ExtractOptions opts = {});

  // The distinct triples of one document (or sentence), in order of first
  // occurrence. Thread-safe (see LinkParser and WordNet).
  std::vector<Triple> extract(const std::string& text, ExtractStats* stats = nullptr) const;

  // The sentence split described above.
  static std::vector<std::vector<std::string>> splitSentences(const std::string& text);

 private:
  LinkParser parser_;
};

}  // namespace autoglm::core::semantic
