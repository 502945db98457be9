#include "launch/serve/reply.h"

#include <nlohmann/json.hpp>

namespace autoglm::launch::serve {

Reply jsonReply(unsigned status, const nlohmann::json& body) {
  Reply r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Reply errorReply(unsigned status, std::string_view message) {
  return jsonReply(status, nlohmann::json{{"error", std::string(message)}});
}

}  // namespace autoglm::launch::serve
