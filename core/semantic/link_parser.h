#pragma once
// Syntactic links between the words of a document, from CMU Link Grammar
// (C library, English dictionary of the link-grammar-dictionaries-en package).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/semantic/syntax_classes.h"

namespace autoglm::core::semantic {

// A link between two input words; positions count words over the
// concatenation of all sentences given to parse(), left < right.
struct SyntaxLink {
  int32_t left;
  int32_t right;
  std::string type;  // Link Grammar's label, e.g. "Ss*s"
};

struct ParseOptions {
  int64_t window_words = 24;        // >= 1: longer sentences are cut into windows
  // CPU time of the parsing thread per window. Link Grammar takes whole
  // seconds: a positive value is rounded up (0.5 -> 1 s); 0 means the timer
  // runs out as soon as the parse has used any CPU time (for tests).
  double seconds_per_window = 0.5;  // >= 0
  int64_t max_null_links = 8;       // >= 0: words a linkage may leave unlinked
};

// Counters that parse() adds to. A window counts in `windows` and in exactly
// one of `linked` (a linkage was found; its links were used) and `unparsed`
// (no linkage: too many null words, tokenizer failure, nothing left after
// sanitising, or the timer ran out first). `timed_out` counts windows whose
// time limit expired, whether or not a linkage was still found.
struct ParseStats {
  int64_t windows = 0, linked = 0, timed_out = 0, unparsed = 0;
};

// Owns one English Dictionary, loaded once and shared by all parses.
//
// Thread safety: parse() may be called from several threads at once. Link
// Grammar allows threads to share a Dictionary as long as each uses its own
// Parse_Options and Sentence (README "Multi-threading"); its only global is
// the verbosity, which parse_options_create() resets to 1. So Parse_Options
// are kept in a pool (one per concurrent caller, reused), created under a
// mutex and set back to verbosity 0 at once, and every calling thread gets a
// silent error handler (Link Grammar's handler is thread-local) so that no
// message reaches stderr.
class LinkParser {
 public:
  // Throws ConfigError for invalid options, DataError with an install hint
  // when the English dictionary cannot be loaded.
  explicit LinkParser(ParseOptions opts);
  ~LinkParser();
  LinkParser(const LinkParser&) = delete;
  LinkParser& operator=(const LinkParser&) = delete;
  LinkParser(LinkParser&&) noexcept;
  LinkParser& operator=(LinkParser&&) noexcept;

  const ParseOptions& options() const { return opts_; }

  // One document as sentences of lower-case words (punctuation tokens are not
  // needed). A sentence longer than window_words is cut into consecutive
  // windows of at most window_words words, so unsegmented text given as one
  // "sentence" is parsed window by window; no link crosses a window. Returns
  // the links of each window's best linkage (null links allowed up to
  // max_null_links), in window order, without links to LEFT-WALL/RIGHT-WALL
  // and without links between two morphemes of one input word.
  //
  // Words are sanitised before parsing: bytes that are ASCII control or space
  // characters and bytes that are not part of a valid UTF-8 sequence are
  // dropped; printable ASCII and valid UTF-8 characters are kept. A word left
  // empty is skipped but keeps its position. Never throws for odd input
  // (empty, huge, non-ASCII, invalid UTF-8, timeouts): such windows count in
  // stats and give fewer links.
  std::vector<SyntaxLink> parse(const std::vector<std::vector<std::string>>& sentences,
                                ParseStats* stats = nullptr) const;

 private:
  struct State;
  ParseOptions opts_;
  std::unique_ptr<State> state_;
};

}  // namespace autoglm::core::semantic
