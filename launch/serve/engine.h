#pragma once
// What the HTTP server asks of a model, so that the server (launch/serve/)
// holds no LibTorch and its tests can use a fake. The real one is
// launch/serve/model_engine.h: a checkpoint's tokenizer, graph builder and
// classifier.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace autoglm::launch::serve {

// A text the model cannot take (no tokens): the request gets 400 with this message.
class InputError : public Error {
 public:
  using Error::Error;
};

// One text made ready for the model (its graph). Opaque to the server.
class PreparedInput {
 public:
  virtual ~PreparedInput() = default;
};

struct Prediction {
  int64_t label = 0;                 // index into Engine::labels()
  std::vector<float> probabilities;  // one per label, summing to 1
  int64_t exit_block = 0;            // GAT blocks computed before the graph left (1..blocks)
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual const std::vector<std::string>& labels() const = 0;
  // Tokenizes and builds the graph of one text. Called from many threads at
  // once; throws InputError for a text with nothing to classify.
  virtual std::shared_ptr<const PreparedInput> prepare(std::string_view text) const = 0;
  // Classifies a batch, one prediction per input in order. Called from one
  // thread at a time.
  virtual std::vector<Prediction> classify(const std::vector<const PreparedInput*>& batch) = 0;
};

}  // namespace autoglm::launch::serve
