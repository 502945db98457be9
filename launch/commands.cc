#include "launch/commands.h"

#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

#include "comm/factory.h"
#include "comm/mpi/environment.h"
#include "core/error.h"
#include "core/graph/prepared_data.h"
#include "core/log.h"
#include "parallel/process_grid.h"
#include "trainer/checkpoint/checkpoint.h"
#include "trainer/checkpoint/sharded_checkpoint.h"
#include "trainer/config/experiment_config.h"
#include "trainer/config/validate.h"
#include "trainer/inference/evaluator.h"
#include "trainer/inference/predictor.h"
#include "trainer/loop/trainer.h"
#include "trainer/observe/trace_recorder.h"
#include "trainer/tasks/graph_classification/feedback_data.h"
#include "trainer/tasks/kg_completion/kg_inference.h"
#include "trainer/tasks/make_task.h"
#include "trainer/tasks/pretrain/pretrainer.h"

namespace autoglm::launch {
using namespace trainer;  // NOLINT: the commands are the trainer's verbs
namespace fs = std::filesystem;

namespace {


// Process-wide settings from the run section: log level and intra-op threads.
// threads 0 is every core for a single process (LibTorch's own default can be
// one thread); OMP_NUM_THREADS, when set, and ranks under mpirun keep theirs.
void applyRunSettings(const ExperimentConfig& cfg) {
  core::log::setLevel(core::enumName(cfg.run.log_level));
  if (cfg.run.threads > 0) {
    at::set_num_threads(static_cast<int>(cfg.run.threads));
  } else if (std::getenv("OMP_NUM_THREADS") == nullptr && comm::mpi::Environment::launchedSize() == 1) {
    at::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  }
}

ExperimentConfig loadConfig(const ConfigArgs& args) {
  if (args.config.empty()) throw ConfigError("no config file given (use --config FILE)");
  ExperimentConfig cfg = ExperimentConfig::load(args.config, args.overrides);
  applyRunSettings(cfg);
  return cfg;
}

int reportResult(const FitResult& r) {
  if (r.interrupted) return 130;
  if (r.best_epoch > 0) {
    core::log::info0("best epoch {} (selection score {:.4f}); {} epochs, {} steps, {:.1f}s", r.best_epoch,
                     r.best_score, r.epochs_run, r.steps, r.seconds);
  } else {
    core::log::info0("no epoch finished (train.max_steps ended the run first): {} steps, {:.1f}s", r.steps,
                     r.seconds);
  }
  if (core::log::rank() == 0) {
    std::cout << "test " << r.metric << ": " << fmt::format("{:.4f}", r.test_metric) << " (best epoch " << r.best_epoch
              << ", " << fmt::format("{:.1f}", r.seconds) << "s)" << std::endl;
  }
  return 0;
}

void writeTrace(TraceRecorder& trace, comm::Communicator* world, const ExperimentConfig& cfg) {
  const std::string path = (std::filesystem::path(cfg.run.out_dir) / "trace.json").string();
  trace.writeMerged(world, path);
  core::log::info0("wrote the trace of the run to {} (open it in Perfetto or chrome://tracing)", path);
}

// What a fine-tuning run starts from (TrainOptions::init_from), or nothing.
std::optional<CheckpointInfo> initCheckpoint(const TrainOptions& opts) {
  if (opts.init_from.empty()) {
    if (!opts.data_file.empty()) throw ConfigError("--data FILE needs --init-from CHECKPOINT");
    return std::nullopt;
  }
  return openCheckpoint(opts.init_from, /*prefer_best=*/true);
}

// The run's config: the file given, or the checkpoint's when fine-tuning
// without one. A fine-tuning run never writes into the run it starts from.
ExperimentConfig runConfig(const ConfigArgs& args, const std::optional<CheckpointInfo>& init) {
  if (!init) return loadConfig(args);
  ExperimentConfig cfg = args.config.empty() ? configFromCheckpoint(*init, args.overrides) : loadConfig(args);
  cfg.model.embed_init = core::model::EmbedInit::kRandom;  // the checkpoint's parameters replace it
  const fs::path ckpt_run = fs::path(init->dir).parent_path().parent_path();
  std::error_code ec;
  if (fs::equivalent(ckpt_run, cfg.run.out_dir, ec)) {
    cfg.run.out_dir += "-finetune";
    core::log::info0("fine-tuning writes to run.out_dir={} (the checkpoint's run is left as it is)", cfg.run.out_dir);
  }
  return cfg;
}

core::graph::PreparedData runData(const ExperimentConfig& cfg, const TrainOptions& opts,
                                  const std::optional<CheckpointInfo>& init) {
  if (init && !opts.data_file.empty()) return prepareFeedback(opts.data_file, *init, cfg);
  core::graph::PreparedData data = prepareData(cfg);
  if (init) checkSameVocabulary(*init, data, cfg.data.dir, "; fine-tune on new data with --data FILE (text<TAB>label lines)");
  return data;
}

// With pretrain.epochs > 0, a fresh run pre-trains first and starts from that
// checkpoint; a run from --init-from or --resume does not.
std::optional<CheckpointInfo> pretrainFirst(const ExperimentConfig& cfg, const core::graph::PreparedData& data,
                                            const TrainOptions& opts, bool init) {
  if (cfg.pretrain.epochs == 0) return std::nullopt;
  if (init || opts.resume) {
    core::log::info0("pretrain.epochs={} skipped: the run starts from {}", cfg.pretrain.epochs,
                     init ? "--init-from" : "its checkpoint (--resume)");
    return std::nullopt;
  }
  const CheckpointManager run_ckpts((fs::path(cfg.run.out_dir) / "checkpoints").string(), cfg.train.keep_checkpoints);
  if (!opts.overwrite && !run_ckpts.existing().empty()) {
    throw ConfigError("run.out_dir=" + cfg.run.out_dir + " already holds checkpoints (" + run_ckpts.dir() +
                      "); continue that run with --resume, choose another run.out_dir, or pass --overwrite");
  }
  Pretrainer pretrainer(cfg, data);
  return openCheckpoint(pretrainer.run().checkpoint, /*prefer_best=*/false);
}

// The run's watchers: the caller's (the supervisor client) and, with
// run.trace, a trace.
struct Watchers {
  std::unique_ptr<TraceRecorder> trace;
  std::shared_ptr<ObserverFanout> fanout = std::make_shared<ObserverFanout>();
  Watchers(const ExperimentConfig& cfg, const TrainOptions& opts, int rank) {
    if (cfg.run.trace) trace = std::make_unique<TraceRecorder>(rank);
    fanout->add(opts.comm_observer.get(), opts.run_observer);
    fanout->add(trace.get(), trace.get());
  }
};

// The loop over the task, from its start (--init-from, a pre-training) to the
// exit code; writes the trace.
int fitTask(const ExperimentConfig& cfg, std::unique_ptr<Task> task, const TrainOptions& opts,
            const std::optional<CheckpointInfo>& start, Watchers& w, comm::Communicator* world) {
  Trainer trainer(cfg, std::move(task));
  if (!opts.resume && start) {
    Checkpointing* ckpt = trainer.task().checkpointing();
    if (ckpt == nullptr) throw ConfigError("this model kind starts from scratch: drop --init-from");
    ckpt->initFrom(*start);
  }
  trainer.setObserver(w.fanout.get());
  if (opts.stop != nullptr) trainer.setStopRequest([stop = opts.stop] { return stop->load(); });
  const int rc = reportResult(trainer.fit(opts.resume, opts.overwrite));
  if (w.trace) writeTrace(*w.trace, world, cfg);
  return rc;
}

// One rank of `mpirun -np N autoglm train`, at the layout validateExperiment resolved.
int runTrainRanks(const ExperimentConfig& cfg, const ConfigArgs& args, const TrainOptions& opts,
                  const std::optional<CheckpointInfo>& init) {
  comm::mpi::Environment env(nullptr, nullptr);
  const int rank = env.worldRank(), world_size = env.worldSize();
  core::log::setRank(rank, world_size);
  try {
    Watchers w(cfg, opts, rank);
    auto world = comm::makeCommunicator(cfg.comm, w.fanout);
    parallel::ParallelGrid grid(world, cfg.parallel);
    core::log::info0("run '{}': config {}, output {}, {} ranks (dp={} tp={} pp={})", cfg.run.name, args.config,
                     cfg.run.out_dir, world_size, cfg.parallel.dp, cfg.parallel.tp, cfg.parallel.pp);
    // Rank 0 builds the graph cache if needed; the others open it afterwards.
    comm::BarrierOptions long_wait;
    long_wait.timeout = std::chrono::hours(24);
    if (!taskSpec(cfg.model.kind).graphs) return fitTask(cfg, makeTask(cfg, {nullptr, grid}), opts, init, w, world.get());
    if (rank != 0) world->barrier(long_wait)->wait();
    core::graph::PreparedData data = runData(cfg, opts, init);
    if (rank == 0) world->barrier(long_wait)->wait();
    return fitTask(cfg, makeTask(cfg, {&data, grid}), opts, init, w, world.get());
  } catch (const std::exception& e) {
    // One failing rank would leave the others waiting in a collective: report
    // it with the rank and end the whole job.
    const auto* c10 = dynamic_cast<const c10::Error*>(&e);
    const bool config = dynamic_cast<const ConfigError*>(&e) != nullptr;
    const std::string what = c10 != nullptr ? c10->what_without_backtrace() : e.what();
    std::cerr << "autoglm: " << (config ? "config error" : "error") << " (rank " << rank << " of " << world_size
              << "): " << what << std::endl;
    if (opts.on_error) opts.on_error(what, config);
    comm::mpi::Environment::abortJob(config ? 2 : 1);
  }
}

}  // namespace

int runTrain(const ConfigArgs& args, const TrainOptions& opts) {
  const std::optional<CheckpointInfo> init = initCheckpoint(opts);
  ExperimentConfig cfg = runConfig(args, init);
  // Every rule, before MPI starts work and before any data is prepared.
  validateRun(&cfg, {comm::mpi::Environment::launchedSize(), opts.resume, init.has_value()});
  if (comm::mpi::Environment::launchedSize() > 1) return runTrainRanks(cfg, args, opts, init);
  core::log::info0("run '{}': config {}, output {}", cfg.run.name,
                   args.config.empty() && init ? init->dir + "/config.yaml" : args.config, cfg.run.out_dir);
  Watchers w(cfg, opts, 0);
  if (!taskSpec(cfg.model.kind).graphs) return fitTask(cfg, makeTask(cfg, {}), opts, init, w, nullptr);
  core::graph::PreparedData data = runData(cfg, opts, init);
  if (!data.built_now) core::log::info0("using graph cache {}", data.cache_path);
  const std::optional<CheckpointInfo> pretrained = pretrainFirst(cfg, data, opts, init.has_value());
  ExperimentConfig train_cfg = cfg;
  if (pretrained) train_cfg.model.embed_init = core::model::EmbedInit::kRandom;  // the checkpoint's replace it
  return fitTask(train_cfg, makeTask(train_cfg, {&data, parallel::ParallelGrid::alone()}), opts,
                 pretrained ? pretrained : init, w, nullptr);
}

int runPretrain(const ConfigArgs& args, std::ostream& out) {
  const ExperimentConfig cfg = loadConfig(args);
  if (comm::mpi::Environment::launchedSize() > 1) {
    throw ConfigError("autoglm pretrain runs on one process (pretrain.*); start it without mpirun, then train in "
                      "parallel with --init-from " + Pretrainer::runDir(cfg));
  }
  core::log::info0("pre-training '{}': config {}, output {}", cfg.run.name, args.config, Pretrainer::runDir(cfg));
  core::graph::PreparedData data = prepareData(cfg);
  if (!data.built_now) core::log::info0("using graph cache {}", data.cache_path);
  Pretrainer pretrainer(cfg, data);
  const PretrainResult r = pretrainer.run();
  out << r.checkpoint << std::endl;
  return 0;
}

int runPrepare(const ConfigArgs& args, bool force) {
  const ExperimentConfig cfg = loadConfig(args);
  core::graph::PreparedData data = prepareData(cfg, force);
  if (!data.built_now) core::log::info0("graph cache is up to date (use --force to rebuild)");
  std::cout << data.cache_path << std::endl;
  return 0;
}

int runConfigShow(const ConfigArgs& args, std::ostream& out) {
  const ExperimentConfig cfg = loadConfig(args);
  out << cfg.toYaml() << std::endl;
  return 0;
}

namespace {

// `autoglm eval` on a kg_completion checkpoint: filtered ranking of the test
// split on one process, printed as one JSON line.
int runKgEval(const CheckpointInfo& ckpt, const std::vector<std::string>& overrides) {
  const KgInference kg = loadKgInference(ckpt, overrides);
  const auto t0 = std::chrono::steady_clock::now();
  const RankingMetrics m = rankKgTest(kg);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  nlohmann::json line = m.json(&kg.data);
  line["checkpoint"] = ckpt.dir;
  line["data_dir"] = kg.cfg.kg.data_dir;
  line["filter"] = kg.cfg.kg.filter;
  line["seconds"] = secs;
  std::cout << line.dump() << std::endl;
  return 0;
}

}  // namespace

int runEval(const std::string& checkpoint, const std::vector<std::string>& overrides) {
  {
    const CheckpointInfo ckpt = openCheckpoint(checkpoint, /*prefer_best=*/true);
    if (configFromCheckpoint(ckpt, overrides).model.kind == core::model::ModelKind::kKgCompletion) {
      return runKgEval(ckpt, overrides);
    }
  }
  const CheckpointOnData c = openOnData(checkpoint, overrides);
  const ExperimentConfig& cfg = c.cfg;
  const auto t0 = std::chrono::steady_clock::now();
  const EvalResult r = c.evaluator->evaluate(c.data.store, c.data.indicesOf(core::text::Split::kTest));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << fmt::format("checkpoint {}: test accuracy {:.4f}, loss {:.4f} on {} documents in {:.2f}s", c.ckpt.dir,
                           r.accuracy, r.loss, r.count, secs);
  if (cfg.model.early_exit) {
    std::cout << fmt::format("; exit threshold {:.3f}: mean blocks {:.3f} of {}, node-block work {:.3f}",
                             cfg.infer.exit_threshold, r.mean_blocks, cfg.model.layers, r.node_block_fraction);
  }
  std::cout << std::endl;
  return 0;
}

int runPredict(const std::string& checkpoint, const std::vector<std::string>& overrides, std::istream& in,
               std::ostream& out) {
  Predictor predictor(checkpoint, overrides);
  const bool exits = predictor.config().model.early_exit;
  std::string line;
  int64_t lineno = 0, failed = 0;
  // Documents are classified in chunks so that long inputs stream.
  std::vector<core::graph::Graph> pending;
  auto flush = [&] {
    if (pending.empty()) return;
    std::vector<core::graph::GraphView> views;
    for (const auto& g : pending) views.push_back(g.view());
    const Classified c = predictor.classify(views);
    const at::Tensor best = std::get<1>(c.probabilities.max(1));
    for (size_t i = 0; i < pending.size(); ++i) {
      const auto row = static_cast<int64_t>(i);
      const int64_t k = best[row].item<int64_t>();
      out << predictor.labels()[static_cast<size_t>(k)] << '\t'
          << fmt::format("{:.4f}", c.probabilities[row][k].item<double>());
      if (exits) out << '\t' << c.exit_block[row].item<int64_t>();
      out << '\n';
    }
    out.flush();
    pending.clear();
  };
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::optional<core::graph::Graph> g = predictor.prepare(line);
    if (!g) {
      flush();
      core::log::error("stdin:{}: empty document (no tokens); printed as ERROR", lineno);
      out << "ERROR\tempty document\n";
      ++failed;
      continue;
    }
    pending.push_back(std::move(*g));
    if (static_cast<int64_t>(pending.size()) >= predictor.config().train.eval_batch_graphs) flush();
  }
  flush();
  return failed > 0 ? 1 : 0;
}

void addServeAddress(const std::optional<std::string>& host, const std::optional<int>& port,
                     std::vector<std::string>& overrides) {
  if (host) {
    // Single-quoted YAML, so that "::1" or "0.0.0.0" stays a string.
    std::string quoted = "'";
    for (const char c : *host) quoted += c == '\'' ? std::string("''") : std::string(1, c);
    overrides.push_back("serve.host=" + quoted + "'");
  }
  if (port) overrides.push_back("serve.port=" + std::to_string(*port));
}

}  // namespace autoglm::launch
