#include "launch/serve/model_engine.h"

#include <ATen/Functions.h>

#include <iostream>

#include "core/log.h"
#include "launch/serve/kg_model_engine.h"
#include "launch/serve/server.h"

namespace autoglm::launch::serve {
namespace {

struct GraphInput final : PreparedInput {
  explicit GraphInput(core::graph::Graph g) : graph(std::move(g)) {}
  core::graph::Graph graph;
};

}  // namespace

std::shared_ptr<const PreparedInput> ModelEngine::prepare(std::string_view text) const {
  std::optional<core::graph::Graph> g = predictor_.prepare(text);
  if (!g) throw InputError("no tokens to classify");
  return std::make_shared<GraphInput>(std::move(*g));
}

std::vector<Prediction> ModelEngine::classify(const std::vector<const PreparedInput*>& batch) {
  std::vector<core::graph::GraphView> views;
  views.reserve(batch.size());
  for (const PreparedInput* in : batch) views.push_back(static_cast<const GraphInput*>(in)->graph.view());
  const trainer::Classified c = predictor_.classify(views);
  const at::Tensor probs = c.probabilities.contiguous();
  const int64_t classes = probs.size(1);
  const float* p = probs.data_ptr<float>();
  std::vector<Prediction> out(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    const float* row = p + static_cast<int64_t>(i) * classes;
    out[i].probabilities.assign(row, row + classes);
    out[i].label = std::max_element(row, row + classes) - row;
    out[i].exit_block = c.exit_block[static_cast<int64_t>(i)].item<int64_t>();
  }
  return out;
}

int runServe(const std::string& checkpoint, const std::vector<std::string>& overrides) {
  const trainer::CheckpointInfo ckpt = trainer::openCheckpoint(checkpoint, /*prefer_best=*/true);
  if (trainer::configFromCheckpoint(ckpt, overrides).model.kind == core::model::ModelKind::kKgCompletion) {
    return runKgServe(ckpt, overrides);
  }
  trainer::Predictor predictor(ckpt, overrides);
  const trainer::ServeConfig& cfg = predictor.config().serve;
  ModelEngine engine(predictor);
  Server server(cfg, engine);
  const uint16_t port = server.listen();
  server.stopOnSignals();
  core::log::info("model {} ({} labels, {} blocks{}); batches of up to {} texts, waiting up to {} ms",
                  predictor.checkpointDir(), predictor.labels().size(), predictor.config().model.layers,
                  predictor.config().model.early_exit
                      ? fmt::format(", early exit at {:.2f}", predictor.config().infer.exit_threshold)
                      : std::string(),
                  cfg.max_batch, cfg.max_wait_ms);
  const ConnectionLimits& limits = server.connectionLimits();
  core::log::info("serving up to {} connections (serve.max_connections{}; open-file limit {}), {} I/O and {} "
                  "prepare threads", limits.served, cfg.max_connections == 0 ? ", from the open-file limit" : "",
                  limits.open_files, cfg.threads, cfg.prepare_threads);
  const bool ipv6 = cfg.host.find(':') != std::string::npos;  // a URL brackets an IPv6 address
  std::cout << "serving on http://" << (ipv6 ? "[" + cfg.host + "]" : cfg.host) << ":" << port << std::endl;
  server.run();
  core::log::info("drained; stopped");
  return 0;
}

}  // namespace autoglm::launch::serve
