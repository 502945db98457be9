#include "core/semantic/link_parser.h"

#include <link-grammar/link-includes.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <mutex>

#include "core/error.h"

namespace autoglm::core::semantic {
namespace {

// Serialises parse_options_create(), which writes Link Grammar's global
// verbosity, across all LinkParser instances.
std::mutex& optionsCreationMutex() {
  static std::mutex mu;
  return mu;
}

void silentHandler(lg_errinfo*, void*) {}

void collectHandler(lg_errinfo* info, void* data) {
  if (info == nullptr || info->text == nullptr || info->severity > lg_Error) return;
  auto* out = static_cast<std::string*>(data);
  if (!out->empty()) *out += "; ";
  *out += info->text;
  while (!out->empty() && (out->back() == '\n' || out->back() == ' ')) out->pop_back();
}

// Link Grammar's error handler is thread-local: install the silent one once
// on every thread that parses.
void silenceThisThread() {
  thread_local bool silenced = false;
  if (!silenced) {
    lg_error_set_handler(silentHandler, nullptr);
    silenced = true;
  }
}

// Length of the valid UTF-8 sequence starting at s[i] (a byte >= 0x80), or 0
// if it is not one (bad lead or continuation byte, truncated, overlong,
// surrogate, above U+10FFFF).
size_t utf8SequenceLength(const std::string& s, size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  size_t n = 0;
  uint32_t cp = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    n = 2, cp = lead & 0x1Fu;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    n = 3, cp = lead & 0x0Fu;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    n = 4, cp = lead & 0x07u;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0u) != 0x80u) return 0;
    cp = (cp << 6) | (b & 0x3Fu);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

// Keeps printable ASCII (0x21-0x7E) and valid UTF-8 characters; drops ASCII
// control and space characters and every byte of an invalid sequence.
std::string sanitizeWord(const std::string& word) {
  std::string out;
  out.reserve(word.size());
  size_t i = 0;
  while (i < word.size()) {
    const auto c = static_cast<unsigned char>(word[i]);
    if (c < 0x80) {
      if (c > 0x20 && c < 0x7F) out += static_cast<char>(c);
      ++i;
      continue;
    }
    const size_t n = utf8SequenceLength(word, i);
    if (n == 0) {
      ++i;
    } else {
      out.append(word, i, n);
      i += n;
    }
  }
  return out;
}

// The text handed to Link Grammar for one window, and where each kept input
// word lies in it: Link Grammar reports the byte range of every linkage word
// (a whole word, a morpheme of one, or an empty range for walls), which is
// mapped back to the input word containing it.
struct WindowText {
  std::string text;
  std::vector<size_t> begin, end;  // byte range of each kept word in text
  std::vector<int32_t> position;   // its position in the document
};

WindowText buildWindow(const std::vector<std::string>& words, size_t from, size_t to,
                       int64_t first_position) {
  WindowText w;
  for (size_t i = from; i < to; ++i) {
    std::string clean = sanitizeWord(words[i]);
    if (clean.empty()) continue;
    if (!w.text.empty()) w.text += ' ';
    w.begin.push_back(w.text.size());
    w.text += clean;
    w.end.push_back(w.text.size());
    w.position.push_back(static_cast<int32_t>(first_position + static_cast<int64_t>(i - from)));
  }
  return w;
}

// Input position of the linkage word covering bytes [begin, end), or -1.
int32_t positionOf(const WindowText& w, size_t begin, size_t end) {
  if (end <= begin) return -1;
  auto it = std::upper_bound(w.begin.begin(), w.begin.end(), begin);
  if (it == w.begin.begin()) return -1;
  const auto k = static_cast<size_t>(it - w.begin.begin() - 1);
  return begin < w.end[k] ? w.position[k] : -1;
}

struct SentenceDeleter {
  void operator()(Sentence_s* s) const { sentence_delete(s); }
};
struct LinkageDeleter {
  void operator()(Linkage_s* l) const { linkage_delete(l); }
};

void collectLinks(Linkage linkage, const WindowText& w, std::vector<SyntaxLink>* links) {
  const size_t num_words = linkage_get_num_words(linkage);
  std::vector<int32_t> pos(num_words, -1);
  for (size_t i = 0; i < num_words; ++i) {
    pos[i] = positionOf(w, linkage_get_word_byte_start(linkage, i),
                        linkage_get_word_byte_end(linkage, i));
  }
  const size_t num_links = linkage_get_num_links(linkage);
  for (size_t i = 0; i < num_links; ++i) {
    const size_t lw = linkage_get_link_lword(linkage, i);
    const size_t rw = linkage_get_link_rword(linkage, i);
    if (lw >= num_words || rw >= num_words) continue;
    int32_t a = pos[lw], b = pos[rw];
    if (a < 0 || b < 0 || a == b) continue;  // a wall, or two morphemes of one word
    if (a > b) std::swap(a, b);
    const char* label = linkage_get_link_label(linkage, i);
    links->push_back(SyntaxLink{a, b, label != nullptr ? label : ""});
  }
}

void parseWindow(Dictionary dict, Parse_Options po, const WindowText& w,
                 std::vector<SyntaxLink>* links, ParseStats* stats) {
  ++stats->windows;
  if (w.text.empty()) {
    ++stats->unparsed;
    return;
  }
  std::unique_ptr<Sentence_s, SentenceDeleter> sentence(sentence_create(w.text.c_str(), dict));
  if (!sentence || sentence_split(sentence.get(), po) != 0) {
    ++stats->unparsed;
    return;
  }
  const int found = sentence_parse(sentence.get(), po);
  if (parse_options_timer_expired(po)) ++stats->timed_out;
  std::unique_ptr<Linkage_s, LinkageDeleter> linkage(
      found > 0 ? linkage_create(0, sentence.get(), po) : nullptr);
  if (!linkage) {
    ++stats->unparsed;
    return;
  }
  collectLinks(linkage.get(), w, links);
  ++stats->linked;
}

void validate(const ParseOptions& o) {
  if (o.window_words < 1) {
    throw ConfigError(detail::concat("ParseOptions.window_words=", o.window_words,
                                     " must be at least 1"));
  }
  if (!(o.seconds_per_window >= 0.0) || !std::isfinite(o.seconds_per_window)) {
    throw ConfigError(detail::concat("ParseOptions.seconds_per_window=", o.seconds_per_window,
                                     " must be a finite number >= 0"));
  }
  if (o.max_null_links < 0) {
    throw ConfigError(detail::concat("ParseOptions.max_null_links=", o.max_null_links,
                                     " must be >= 0"));
  }
}

}  // namespace

struct LinkParser::State {
  Dictionary dict = nullptr;
  int max_parse_time = 1;  // whole seconds of thread CPU time
  int max_null_count = 0;
  std::mutex mu;
  std::vector<Parse_Options> idle;  // pool: one per concurrent parse() so far

  ~State() {
    for (Parse_Options po : idle) parse_options_delete(po);
    if (dict != nullptr) dictionary_delete(dict);
  }

  Parse_Options create() const {
    Parse_Options po;
    {
      std::lock_guard<std::mutex> lock(optionsCreationMutex());
      po = parse_options_create();  // sets the global verbosity to 1 ...
      parse_options_set_verbosity(po, 0);  // ... and this back to 0
    }
    parse_options_set_max_parse_time(po, max_parse_time);
    parse_options_set_min_null_count(po, 0);
    parse_options_set_max_null_count(po, max_null_count);
    parse_options_set_spell_guess(po, 0);
    parse_options_set_islands_ok(po, false);
    parse_options_set_repeatable_rand(po, true);  // same links on every run and thread
    return po;
  }

  Parse_Options acquire() {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!idle.empty()) {
        Parse_Options po = idle.back();
        idle.pop_back();
        return po;
      }
    }
    return create();
  }

  void release(Parse_Options po) noexcept {
    try {
      std::lock_guard<std::mutex> lock(mu);
      idle.push_back(po);
    } catch (...) {
      parse_options_delete(po);
    }
  }

  // A Parse_Options borrowed from the pool for one parse() call.
  class Lease {
   public:
    explicit Lease(State& state) : state_(state), po_(state.acquire()) {}
    ~Lease() { state_.release(po_); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Parse_Options get() const { return po_; }

   private:
    State& state_;
    Parse_Options po_;
  };
};

LinkParser::LinkParser(ParseOptions opts) : opts_(opts), state_(std::make_unique<State>()) {
  validate(opts_);
  silenceThisThread();
  const double secs = std::ceil(opts_.seconds_per_window);
  state_->max_parse_time = secs >= INT_MAX ? INT_MAX : static_cast<int>(secs);
  state_->max_null_count =
      static_cast<int>(std::min<int64_t>(opts_.max_null_links, opts_.window_words));
  // The first Parse_Options also sets the global verbosity to 0 before the
  // dictionary is read, so loading prints nothing.
  state_->idle.push_back(state_->create());
  std::string messages;
  lg_error_set_handler(collectHandler, &messages);
  state_->dict = dictionary_create_lang("en");
  lg_error_set_handler(silentHandler, nullptr);
  if (state_->dict == nullptr) {
    char* dir = dictionary_get_data_dir();
    std::string where = dir != nullptr ? dir : "(no data directory found)";
    std::free(dir);
    throw DataError(detail::concat(
        "Link Grammar could not load its English dictionary (data dir ", where,
        messages.empty() ? "" : "; ", messages,
        "); install it with: apt-get install liblink-grammar-dev link-grammar-dictionaries-en"));
  }
}

LinkParser::~LinkParser() = default;
LinkParser::LinkParser(LinkParser&&) noexcept = default;
LinkParser& LinkParser::operator=(LinkParser&&) noexcept = default;

std::vector<SyntaxLink> LinkParser::parse(const std::vector<std::vector<std::string>>& sentences,
                                          ParseStats* stats) const {
  AUTOGLM_CHECK(state_ != nullptr, "LinkParser::parse on a moved-from parser");
  silenceThisThread();
  ParseStats local;
  std::vector<SyntaxLink> links;
  State::Lease po(*state_);
  const auto window = static_cast<size_t>(opts_.window_words);
  int64_t first = 0;
  for (const auto& sentence : sentences) {
    for (size_t from = 0; from < sentence.size(); from += window) {
      const size_t to = std::min(sentence.size(), from + window);
      WindowText w = buildWindow(sentence, from, to, first + static_cast<int64_t>(from));
      parseWindow(state_->dict, po.get(), w, &links, &local);
    }
    first += static_cast<int64_t>(sentence.size());
  }
  if (stats != nullptr) {
    stats->windows += local.windows;
    stats->linked += local.linked;
    stats->timed_out += local.timed_out;
    stats->unparsed += local.unparsed;
  }
  return links;
}

}  // namespace autoglm::core::semantic
