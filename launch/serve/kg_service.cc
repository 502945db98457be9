#include "launch/serve/kg_service.h"

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <memory>
#include <unordered_set>
#include <utility>

namespace autoglm::launch::serve {

KgBatcher::Run kgRun(KgEngine& engine) {
  return [&engine](const std::vector<const PreparedInput*>& batch) {
    std::vector<const KgQuery*> queries;
    queries.reserve(batch.size());
    for (const PreparedInput* in : batch) queries.push_back(&static_cast<const KgQueryInput*>(in)->query);
    return engine.complete(queries);
  };
}

KgService::KgService(KgEngine& engine, KgBatcher& batcher, KgCache& cache, Metrics& metrics)
    : engine_(engine), batcher_(batcher), cache_(cache), metrics_(metrics) {}

void KgService::complete(const KgRequest& request, const boost::asio::any_io_executor& executor, Done done) {
  auto resolved = resolveKgQuery(engine_, request);
  if (auto* message = std::get_if<std::string>(&resolved)) return done(errorReply(400, *message));
  const KgQuery query = std::get<KgQuery>(resolved);
  metrics_.countKgQuery(query.predict_head);
  std::string key = kgCacheKey(query);
  if (auto hit = cache_.get(key)) {
    metrics_.countCache(1, 0);
    return done(kgReply(engine_, request, *hit, true));
  }
  metrics_.countCache(0, 1);
  auto reservation = batcher_.reserve(1);
  if (!reservation) {
    return done(errorReply(503, "queue full: " + std::to_string(batcher_.depth()) + " queries waiting of " +
                                    std::to_string(batcher_.options().capacity) +
                                    " (serve.queue_capacity); retry later"));
  }
  std::vector<std::shared_ptr<const PreparedInput>> inputs{std::make_shared<KgQueryInput>(query)};
  auto shared_done = std::make_shared<Done>(std::move(done));
  batcher_.submit(std::move(*reservation), std::move(inputs),
                  [this, request, query, key = std::move(key), shared_done, executor](
                      std::vector<KgAnswer> answers, std::exception_ptr error) {
                    Reply reply = finish(request, query, key, std::move(answers), error);
                    boost::asio::post(executor, [shared_done, reply = std::move(reply)]() mutable {
                      (*shared_done)(std::move(reply));
                    });
                  });
}

// On the batching thread.
Reply KgService::finish(const KgRequest& request, const KgQuery& query, const std::string& key,
                        std::vector<KgAnswer> answers, std::exception_ptr error) {
  if (error) {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      return errorReply(500, std::string("completion failed: ") + e.what());
    } catch (...) {
      return errorReply(500, "completion failed with a non-standard exception");
    }
  }
  if (answers.size() != 1) return errorReply(500, "the model returned " + std::to_string(answers.size()) + " answers");
  if (auto problem = checkKgAnswer(answers[0], query, engine_.numEntities())) {
    return errorReply(500, "the model returned " + *problem);
  }
  cache_.put(key, answers[0]);
  return kgReply(engine_, request, answers[0], false);
}

std::variant<KgQuery, std::string> resolveKgQuery(const KgEngine& engine, const KgRequest& request) {
  const char* side = request.predict_head ? "tail" : "head";
  const auto anchor = engine.entityId(request.anchor);
  if (!anchor) {
    return std::string(side) + ": unknown entity \"" + request.anchor + "\" (not among the graph's " +
           std::to_string(engine.numEntities()) + " entities)";
  }
  const auto relation = engine.relationId(request.relation);
  if (!relation) {
    return "relation: unknown relation \"" + request.relation + "\" (not among the graph's " +
           std::to_string(engine.numRelations()) + " relations)";
  }
  KgQuery q;
  q.anchor = *anchor;
  q.relation = *relation;
  q.predict_head = request.predict_head;
  q.k = std::min(request.k, engine.numEntities());
  q.filter = request.filter;
  return q;
}

std::string kgCacheKey(const KgQuery& q) {
  return std::string(q.predict_head ? "h:" : "t:") + std::to_string(q.anchor) + ":" + std::to_string(q.relation) +
         ":" + std::to_string(q.k) + (q.filter ? ":f" : ":u");
}

std::optional<std::string> checkKgAnswer(const KgAnswer& a, const KgQuery& q, int64_t entities) {
  if (a.ids.size() != a.scores.size()) {
    return std::to_string(a.ids.size()) + " ids with " + std::to_string(a.scores.size()) + " scores";
  }
  if (static_cast<int64_t>(a.ids.size()) > q.k) {
    return std::to_string(a.ids.size()) + " entities for k=" + std::to_string(q.k);
  }
  std::unordered_set<int64_t> seen;
  for (size_t i = 0; i < a.ids.size(); ++i) {
    if (a.ids[i] < 0 || a.ids[i] >= entities) return "entity id " + std::to_string(a.ids[i]) + " out of range";
    if (!seen.insert(a.ids[i]).second) return "entity id " + std::to_string(a.ids[i]) + " twice";
    if (i > 0 && a.scores[i] > a.scores[i - 1]) return "scores not in decreasing order";
  }
  return std::nullopt;
}

Reply kgReply(const KgEngine& engine, const KgRequest& request, const KgAnswer& answer, bool cached) {
  nlohmann::json entities = nlohmann::json::array();
  for (size_t i = 0; i < answer.ids.size(); ++i) {
    entities.push_back(
        {{"entity", engine.entityName(answer.ids[i])}, {"id", answer.ids[i]}, {"score", answer.scores[i]}});
  }
  const nlohmann::json query = {{request.predict_head ? "tail" : "head", request.anchor},
                                {"relation", request.relation},
                                {"k", request.k},
                                {"filter", request.filter}};
  return jsonReply(200, nlohmann::json{{"query", query},
                                       {"entities", std::move(entities)},
                                       {"filtered", request.filter},
                                       {"cached", cached}});
}

}  // namespace autoglm::launch::serve
