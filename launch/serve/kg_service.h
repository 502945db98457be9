#pragma once
// POST /v1/kg/complete behind the sessions, for a query handleRequest()
// validated (kg_request.h): its names are resolved (KgEngine::entityId,
// relationId; an unknown one is 400 naming it), the normalised query (ids,
// side, k, filter) is looked up in the cache; a miss takes one slot in the
// batcher's queue (503 "queue full" at once when there is none) and is
// scored with the other queries of its batch (KgEngine::complete); the reply
// is built and cached when it is done.
//
// Answers: 200 {"query": {"head"|"tail": "<entity>", "relation": "<relation>",
// "k": k, "filter": bool}, "entities": [{"entity": "<name>", "id": id,
// "score": s}, ...], "filtered": bool, "cached": bool}, best first (equal
// scores: the lower id first); 400 unknown entity or relation; 503 queue
// full; 500 when the model fails or returns an answer that does not fit.

#include <boost/asio/any_io_executor.hpp>

#include <functional>
#include <optional>
#include <string>
#include <variant>

#include "launch/serve/batcher.h"
#include "launch/serve/kg_engine.h"
#include "launch/serve/kg_request.h"
#include "launch/serve/lru_cache.h"
#include "launch/serve/metrics.h"
#include "launch/serve/reply.h"

namespace autoglm::launch::serve {

using KgBatcher = BasicBatcher<KgAnswer>;
using KgCache = BasicLruCache<KgAnswer>;

// The batcher's forward pass over a KgEngine.
KgBatcher::Run kgRun(KgEngine& engine);

class KgService {
 public:
  using Done = std::function<void(Reply)>;

  // Every argument must outlive the service.
  KgService(KgEngine& engine, KgBatcher& batcher, KgCache& cache, Metrics& metrics);

  // Answers `request`. `done` runs exactly once: inside this call when the
  // answer is known at once (400, cached, 503), otherwise later through
  // boost::asio::post to `executor` (the connection's strand).
  void complete(const KgRequest& request, const boost::asio::any_io_executor& executor, Done done);

 private:
  Reply finish(const KgRequest& request, const KgQuery& query, const std::string& key, std::vector<KgAnswer> answers,
               std::exception_ptr error);

  KgEngine& engine_;
  KgBatcher& batcher_;
  KgCache& cache_;
  Metrics& metrics_;
};

// The query of `request` with its names resolved, or the message of a 400
// naming the unknown name. k is capped at the number of entities.
std::variant<KgQuery, std::string> resolveKgQuery(const KgEngine& engine, const KgRequest& request);

// The cache key of a resolved query: side, anchor, relation, k, filter.
std::string kgCacheKey(const KgQuery& query);

// What is wrong with `answer` for `query` (ids out of range or repeated,
// more than k, scores not matching ids, not best first), or nullopt.
std::optional<std::string> checkKgAnswer(const KgAnswer& answer, const KgQuery& query, int64_t entities);

// 200 with the answer (see above).
Reply kgReply(const KgEngine& engine, const KgRequest& request, const KgAnswer& answer, bool cached);

}  // namespace autoglm::launch::serve
