// Step time against the embedding table's size, with the rows a step touches
// held fixed: R8's batches, their token ids mapped one to one onto random rows
// of a table of --rows rows (10 k to 10 M), one process. Each row of output is
// one (rows, train.embedding_update) pair: the median over --rounds rounds of
// the mean step time (forward, backward, optimizer; collation outside), and
// the spread. A dense table gradient and Adam over every row grow with the
// table; row-sparse gradients with the lazy update should not.
//
//   table_step_bench --rows 10000,100000,1000000,10000000 --modes dense,sparse,lazy \
//       --steps 20 --rounds 3 --csv out.csv
//
// --csv appends one line per finished pair and skips pairs already in it, so
// an interrupted run resumes.

#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "core/error.h"
#include "core/host_runtime.h"
#include "core/log.h"
#include "core/model/graph_classifier.h"
#include "trainer/config/experiment_config.h"
#include "trainer/optim/grad_norm.h"
#include "trainer/optim/optimizer.h"

namespace {

namespace tr = autoglm::trainer;
namespace graph = autoglm::core::graph;
using Clock = std::chrono::steady_clock;

// Pairs "rows,mode" already in the CSV.
std::set<std::string> donePairs(const std::string& csv) {
  std::set<std::string> done;
  std::ifstream in(csv);
  for (std::string line; std::getline(in, line);) {
    std::stringstream ls(line);
    std::string rows, mode;
    if (std::getline(ls, rows, ',') && std::getline(ls, mode, ',') && rows != "rows") done.insert(rows + "," + mode);
  }
  return done;
}

// Batches of `batch` consecutive training graphs, tokens mapped onto `rows` rows.
std::vector<graph::GraphBatch> makeBatches(const graph::PreparedData& data, int64_t batch, int64_t count,
                                           const at::Tensor& row_of) {
  std::vector<graph::GraphBatch> out;
  const auto train = data.indicesOf(autoglm::core::text::Split::kTrain);
  for (int64_t b = 0; b < count; ++b) {
    std::vector<graph::GraphView> views;
    for (int64_t i = 0; i < batch; ++i) views.push_back(data.store.graph(train[static_cast<size_t>((b * batch + i) % static_cast<int64_t>(train.size()))]));
    graph::GraphBatch g = graph::collate(views);
    g.tokens = row_of.index_select(0, g.tokens);
    out.push_back(std::move(g));
  }
  return out;
}

struct Timing {
  std::vector<double> rounds;  // mean step seconds per round
  int64_t touched = 0;         // distinct rows per step, mean
};

Timing timeMode(const tr::ExperimentConfig& base, tr::EmbeddingUpdate mode, int64_t rows, int64_t classes,
                const std::vector<graph::GraphBatch>& batches, int warmup, int steps, int rounds) {
  tr::ExperimentConfig cfg = base;
  cfg.train.embedding_update = mode;
  Timing t;
  for (int r = 0; r < rounds; ++r) {
    at::manual_seed(static_cast<uint64_t>(cfg.run.seed));
    autoglm::core::model::GraphClassifier model(cfg.model, rows, classes);
    if (mode != tr::EmbeddingUpdate::kDense) model->useRowSparseGradients();
    auto opt = tr::makeOptimizer(cfg.train, model->parameters());
    model->train();
    auto step = [&](const graph::GraphBatch& g) {
      opt->zero_grad();
      at::cross_entropy_loss(model->forward(g), g.labels).backward();
      for (auto& p : model->parameters()) {
        if (p.grad().defined() && p.grad().is_sparse()) p.mutable_grad() = p.grad().coalesce();
      }
      tr::clipToNorm(*model, tr::layoutGradNorm(*model, nullptr, nullptr, false), cfg.train.grad_clip);
      opt->step();
    };
    for (int i = 0; i < warmup; ++i) step(batches[static_cast<size_t>(i) % batches.size()]);
    const auto t0 = Clock::now();
    for (int i = 0; i < steps; ++i) step(batches[static_cast<size_t>(warmup + i) % batches.size()]);
    t.rounds.push_back(std::chrono::duration<double>(Clock::now() - t0).count() / steps);
  }
  int64_t touched = 0;
  for (const auto& g : batches) touched += std::get<0>(at::_unique(g.tokens)).numel();
  t.touched = touched / static_cast<int64_t>(batches.size());
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Step time against embedding table size"};
  std::string config = "configs/r8_gat.yaml";
  std::vector<int64_t> rows_list{10000, 100000, 1000000, 10000000};
  std::vector<std::string> modes_list{"dense", "sparse", "lazy"};
  std::string csv;
  std::vector<std::string> overrides;
  int threads = 2, warmup = 3, steps = 20, rounds = 3;
  int64_t dim = 32;
  app.add_option("--config", config);
  app.add_option("--set", overrides);
  app.add_option("--rows", rows_list, "Table sizes, comma-separated")->delimiter(',');
  app.add_option("--modes", modes_list, "train.embedding_update values, comma-separated")->delimiter(',');
  app.add_option("--dim", dim, "model.embed_dim (32 keeps a dense 10 M-row table and its Adam state near 5 GB)");
  app.add_option("--threads", threads);
  app.add_option("--warmup-steps", warmup);
  app.add_option("--steps", steps);
  app.add_option("--rounds", rounds);
  app.add_option("--csv", csv, "Append results here; pairs already present are skipped");
  CLI11_PARSE(app, argc, argv);
  autoglm::core::configureHostRuntime();
  autoglm::core::log::init();
  try {
    overrides.push_back("run.out_dir=/tmp/autoglm-table-step");
    overrides.push_back(fmt::format("model.embed_dim={}", dim));
    overrides.push_back("model.embed_init=random");
    tr::ExperimentConfig cfg = tr::ExperimentConfig::load(config, overrides);
    autoglm::core::log::setLevel("warn");
    at::set_num_threads(threads);
    const graph::PreparedData data = tr::prepareData(cfg);
    const int64_t classes = static_cast<int64_t>(data.label_names.size());
    const std::set<std::string> done = csv.empty() ? std::set<std::string>{} : donePairs(csv);
    std::ofstream out;
    if (!csv.empty()) {
      const bool fresh = !std::ifstream(csv).good();
      out.open(csv, std::ios::app);
      if (fresh) out << "rows,mode,touched_rows,median_step_ms,min_step_ms,max_step_ms,rounds\n";
    }
    std::cout << "rows,mode,touched_rows,median_step_ms,min_step_ms,max_step_ms,rounds" << std::endl;
    for (const int64_t rows : rows_list) {
      AUTOGLM_CHECK(rows >= data.vocab.size(), "--rows ", rows, " is below the vocabulary's ", data.vocab.size());
      // Vocabulary id -> a distinct random row: the same rows touched at every size's spread.
      at::manual_seed(1);
      const at::Tensor row_of = at::randperm(rows, at::TensorOptions().dtype(at::kLong)).narrow(0, 0, data.vocab.size()).clone();
      const auto batches = makeBatches(data, cfg.train.batch_graphs, warmup + steps, row_of);
      for (const std::string& name : modes_list) {
        if (done.count(fmt::format("{},{}", rows, name)) != 0) continue;
        const auto mode = autoglm::core::parseEnum<tr::EmbeddingUpdate>(name);
        AUTOGLM_CHECK(mode.has_value(), "--modes: '", name, "' is not dense, sparse or lazy");
        Timing t = timeMode(cfg, *mode, rows, classes, batches, warmup, steps, rounds);
        std::vector<double> r = t.rounds;
        std::sort(r.begin(), r.end());
        const std::string line = fmt::format("{},{},{},{:.2f},{:.2f},{:.2f},{}", rows, name, t.touched,
                                             1e3 * r[r.size() / 2], 1e3 * r.front(), 1e3 * r.back(), rounds);
        std::cout << line << std::endl;
        if (out.is_open()) out << line << "\n" << std::flush;
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "table_step_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
