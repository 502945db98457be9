// libFuzzer target over the pure request handling (built only with clang and
// AUTOGLM_BUILD_FUZZERS; see CMakeLists.txt). The input is the bytes a client
// sends; the contract checked is the one request_handler.h states: no throw,
// a known status, a JSON {"error": "..."} body for 4xx, and validated texts.
//
//   serve_request_fuzzer -max_total_time=60 [corpus_dir]

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "launch/serve/request_handler.h"
#include "launch/serve/utf8.h"

namespace {

void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "serve_request_fuzzer: contract broken: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace autoglm::launch::serve;
  RequestLimits limits;
  limits.max_body_bytes = 4096;
  limits.max_texts = 8;
  limits.max_text_bytes = 64;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::optional<Handled> h = handleBytes(bytes, limits);  // never throws: a throw aborts here
  if (!h) return 0;
  if (h->route == Route::kClassify) {
    require(!h->texts.empty() && h->texts.size() <= limits.max_texts, "text count");
    for (const auto& t : h->texts) {
      require(!t.empty() && t.size() <= limits.max_text_bytes, "text size");
      require(!firstInvalidUtf8(t), "text UTF-8");
    }
    return 0;
  }
  if (h->route != Route::kReply) return 0;
  const unsigned s = h->reply.status;
  require(s == 400 || s == 404 || s == 405 || s == 413 || s == 415 || s == 431, "status");
  const auto j = nlohmann::json::parse(h->reply.body, nullptr, false);
  require(j.is_object() && j.contains("error") && j["error"].is_string(), "JSON error body");
  return 0;
}
