#include "launch/serve/classify_service.h"

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include <memory>
#include <utility>

namespace autoglm::launch::serve {

struct ClassifyService::Pending {
  std::vector<std::string> texts;
  std::vector<Prediction> predictions;  // by text
  std::vector<bool> cached;             // by text
  std::vector<size_t> misses;           // indices of the texts sent to the model
  Done done;
};

ClassifyService::ClassifyService(Engine& engine, Batcher& batcher, LruCache& cache, Metrics& metrics,
                                 boost::asio::any_io_executor prepare)
    : engine_(engine), batcher_(batcher), cache_(cache), metrics_(metrics), prepare_(std::move(prepare)) {}

void ClassifyService::classify(std::vector<std::string> texts, const boost::asio::any_io_executor& executor,
                               Done done) {
  auto p = std::make_shared<Pending>();
  p->texts = std::move(texts);
  p->done = std::move(done);
  const size_t n = p->texts.size();
  p->predictions.resize(n);
  p->cached.assign(n, false);
  for (size_t i = 0; i < n; ++i) {
    if (auto hit = cache_.get(p->texts[i])) {
      p->predictions[i] = std::move(*hit);
      p->cached[i] = true;
    } else {
      p->misses.push_back(i);
    }
  }
  metrics_.countTexts(n);
  metrics_.countCache(n - p->misses.size(), p->misses.size());
  if (p->misses.empty()) return p->done(finish(*p, {}, nullptr));

  auto reservation = batcher_.reserve(p->misses.size());
  if (!reservation) {
    return p->done(errorReply(503, "queue full: " + std::to_string(batcher_.depth()) + " texts waiting of " +
                                       std::to_string(batcher_.options().capacity) +
                                       " (serve.queue_capacity), this request needs " +
                                       std::to_string(p->misses.size()) + "; retry later"));
  }
  boost::asio::post(prepare_, [this, p, r = std::move(*reservation), executor]() mutable {
    prepareAndSubmit(p, std::move(r), executor);
  });
}

// On the prepare executor. Answers through `executor` in every case.
void ClassifyService::prepareAndSubmit(const std::shared_ptr<Pending>& p, Batcher::Reservation reservation,
                                       const boost::asio::any_io_executor& executor) {
  auto answer = [&](Reply reply) {
    boost::asio::post(executor, [p, reply = std::move(reply)]() mutable { p->done(std::move(reply)); });
  };
  std::vector<std::shared_ptr<const PreparedInput>> inputs;
  inputs.reserve(p->misses.size());
  for (const size_t i : p->misses) {
    const std::string where = "texts[" + std::to_string(i) + "]: ";
    try {
      inputs.push_back(engine_.prepare(p->texts[i]));
    } catch (const InputError& e) {
      return answer(errorReply(400, where + e.what()));
    } catch (const std::exception& e) {
      return answer(errorReply(500, where + "preparing the text failed: " + e.what()));
    } catch (...) {
      metrics_.countSessionError();
      return answer(errorReply(500, where + "preparing the text failed with a non-standard exception"));
    }
    if (!inputs.back()) return answer(errorReply(500, where + "Engine::prepare returned no input"));
  }
  batcher_.submit(std::move(reservation), std::move(inputs),
                  [this, p, executor](std::vector<Prediction> predictions, std::exception_ptr error) {
                    boost::asio::post(executor, [this, p, predictions = std::move(predictions), error]() mutable {
                      p->done(finish(*p, std::move(predictions), error));
                    });
                  });
}

Reply ClassifyService::finish(Pending& p, std::vector<Prediction> predictions, std::exception_ptr error) {
  if (error) {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      return errorReply(500, std::string("classification failed: ") + e.what());
    } catch (...) {
      return errorReply(500, "classification failed with a non-standard exception");
    }
  }
  const size_t labels = engine_.labels().size();
  for (size_t k = 0; k < p.misses.size(); ++k) {
    const size_t i = p.misses[k];
    if (auto problem = checkPrediction(predictions[k], labels)) {
      return errorReply(500, "texts[" + std::to_string(i) + "]: the model returned " + *problem);
    }
    cache_.put(p.texts[i], predictions[k]);
    p.predictions[i] = std::move(predictions[k]);
  }
  return resultsReply(engine_.labels(), p.predictions, p.cached);
}

std::optional<std::string> checkPrediction(const Prediction& prediction, size_t labels) {
  if (prediction.label < 0 || static_cast<size_t>(prediction.label) >= labels) {
    return "label " + std::to_string(prediction.label) + " of " + std::to_string(labels) + " labels";
  }
  if (prediction.probabilities.size() != labels) {
    return std::to_string(prediction.probabilities.size()) + " probabilities for " + std::to_string(labels) +
           " labels";
  }
  return std::nullopt;
}

Reply resultsReply(const std::vector<std::string>& labels, const std::vector<Prediction>& predictions,
                   const std::vector<bool>& cached) {
  nlohmann::json results = nlohmann::json::array();
  for (size_t i = 0; i < predictions.size(); ++i) {
    const Prediction& p = predictions[i];
    nlohmann::json probabilities = nlohmann::json::object();
    for (size_t l = 0; l < labels.size() && l < p.probabilities.size(); ++l) {
      probabilities[labels[l]] = p.probabilities[l];
    }
    const auto label = static_cast<size_t>(p.label);
    results.push_back({{"label", label < labels.size() ? labels[label] : std::to_string(p.label)},
                       {"probability", label < p.probabilities.size() ? p.probabilities[label] : 0.0f},
                       {"probabilities", std::move(probabilities)},
                       {"exit_block", p.exit_block},
                       {"cached", i < cached.size() && cached[i]}});
  }
  return jsonReply(200, nlohmann::json{{"results", std::move(results)}});
}

}  // namespace autoglm::launch::serve
