#pragma once
// What the server answers to one request, before it becomes an HTTP message:
// the status, the content type and the body. Errors are always JSON
// {"error": "<what is wrong, naming the field>"}.

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <string_view>

namespace autoglm::launch::serve {

struct Reply {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string allow;  // the Allow header of a 405; empty otherwise
};

// `body` serialised as JSON (bytes that are not UTF-8 replaced by U+FFFD).
Reply jsonReply(unsigned status, const nlohmann::json& body);

// {"error": message} with `status` (4xx or 5xx).
Reply errorReply(unsigned status, std::string_view message);

}  // namespace autoglm::launch::serve
