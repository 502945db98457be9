// `autoglm serve`'s engine over a real checkpoint: the server's answers equal
// `autoglm predict`'s on the same checkpoint (label, probability, exit block),
// whether texts come one per request or many, and bad input between them is
// answered without disturbing the model's answers.

#include "launch/serve/model_engine.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <thread>

#include "tests/trainer/test_util.h"
#include "core/text/text_dataset.h"
#include "launch/serve/server.h"
#include "test_client.h"
#include "launch/commands.h"
#include "trainer/tasks/graph_classification/classifier_trainer.h"

namespace autoglm::launch::serve {
namespace {
using namespace testing;

TEST(ModelEngine, ServerAnswersAsPredictDoes) {
  trainer::testing::TempDir dir("serve_model");
  trainer::ExperimentConfig cfg = trainer::testing::smallR8Config(dir.str());
  cfg.model.layers = 2;
  cfg.model.early_exit = true;
  cfg.train.epochs = 1;
  {
    core::graph::PreparedData data = trainer::prepareData(cfg);
    trainer::ClassifierTrainer(cfg, data).fit(false);
  }
  // Test documents of R8, and the exit threshold that splits them between exits.
  const std::string root = std::string(AUTOGLM_SOURCE_ROOT) + "/data/r8/";
  const auto ds = core::text::TextDataset::load(root + "corpus.clean.txt", root + "labels.txt");
  std::vector<std::string> texts;
  for (size_t k = 0; k < 24; ++k) texts.push_back(ds.texts[static_cast<size_t>(ds.indicesOf(core::text::Split::kTest)[k * 37])]);
  const std::vector<std::string> overrides = {"infer.exit_threshold=0.5"};

  std::ostringstream input, predicted;
  for (const auto& t : texts) input << t << "\n";
  std::istringstream in(input.str());
  ASSERT_EQ(runPredict(dir.str(), overrides, in, predicted), 0);
  std::vector<std::string> want;
  std::istringstream lines(predicted.str());
  for (std::string line; std::getline(lines, line);) want.push_back(line);
  ASSERT_EQ(want.size(), texts.size());

  trainer::Predictor predictor(dir.str(), overrides);
  ModelEngine engine(predictor);
  trainer::ServeConfig sc = testConfig();
  sc.max_texts = 64;
  sc.max_text_bytes = 1 << 16;
  sc.max_body_bytes = 1 << 20;
  sc.max_wait_ms = 5;
  Server server(sc, engine);
  const uint16_t port = server.listen();
  std::thread running([&] { server.run(); });

  auto asLine = [](const nlohmann::json& r) {
    return r.at("label").get<std::string>() + "\t" + fmt::format("{:.4f}", r.at("probability").get<double>()) + "\t" +
           std::to_string(r.at("exit_block").get<int64_t>());
  };
  TestClient client(port);
  const Response all = client.classify({{"texts", texts}});
  ASSERT_EQ(all.result_int(), 200) << all.body();
  const auto results = jsonOf(all).at("results");
  ASSERT_EQ(results.size(), texts.size());
  std::set<int64_t> exits;
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(asLine(results[i]), want[i]) << "text " << i << " in one request";
    exits.insert(results[i].at("exit_block").get<int64_t>());
  }
  EXPECT_TRUE(exits.count(1) == 1) << "the threshold lets some graphs leave at block 1";
  for (size_t i = 0; i < texts.size(); i += 5) {
    const Response bad = client.request(boost::beast::http::verb::post, "/v1/classify", "{\"texts\": [\"", "application/json");
    EXPECT_EQ(bad.result_int(), 400);
    const Response one = client.classify({{"texts", {texts[i]}}});
    ASSERT_EQ(one.result_int(), 200) << one.body();
    EXPECT_EQ(asLine(jsonOf(one).at("results").at(0)), want[i]) << "text " << i << " alone";
  }
  server.stop();
  running.join();
}

}  // namespace
}  // namespace autoglm::launch::serve
