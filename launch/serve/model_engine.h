#pragma once
// The Engine of `autoglm serve`: a checkpoint's tokenizer, graph builder and
// classifier (trainer::Predictor), early exit included.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "launch/serve/engine.h"
#include "trainer/inference/predictor.h"

namespace autoglm::launch::serve {

class ModelEngine final : public Engine {
 public:
  explicit ModelEngine(trainer::Predictor& predictor) : predictor_(predictor) {}
  const std::vector<std::string>& labels() const override { return predictor_.labels(); }
  // InputError for a text without tokens.
  std::shared_ptr<const PreparedInput> prepare(std::string_view text) const override;
  std::vector<Prediction> classify(const std::vector<const PreparedInput*>& batch) override;

 private:
  trainer::Predictor& predictor_;
};

// `autoglm serve --checkpoint DIR [--set serve.port=0 ...]` (a kg_completion
// checkpoint: runKgServe, kg_model_engine.h): prints
// "serving on http://HOST:PORT" once it listens, serves until SIGTERM or
// SIGINT, drains and returns 0.
int runServe(const std::string& checkpoint, const std::vector<std::string>& overrides);

}  // namespace autoglm::launch::serve
