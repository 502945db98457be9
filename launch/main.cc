// autoglm: command-line entry point. Parses arguments and dispatches to the
// trainer's commands; maps errors to one line on stderr and an exit status
// (2 for configuration errors, 1 for everything else).

#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <iostream>
#include <optional>
#include <string>

#include "autoglm/config.h"
#include "comm/mpi/environment.h"
#include "core/error.h"
#include "core/host_runtime.h"
#include "core/log.h"
#include "launch/serve/model_engine.h"
#include "launch/supervisor_client.h"
#include "launch/commands.h"
#include "launch/generate_command.h"
#include "launch/simulate_command.h"
#include "launch/extract_command.h"
#include "launch/vectors_command.h"
#include "trainer/inference/compare.h"

namespace {

// Set by SIGINT/SIGTERM; the trainer checks it between steps, saves a checkpoint and
// returns. A second signal exits at once.
std::atomic<bool> g_stop{false};

extern "C" void onStopSignal(int sig) {
  if (g_stop.exchange(true)) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
}

void addConfigOptions(CLI::App* cmd, autoglm::launch::ConfigArgs* args) {
  cmd->add_option("config", args->config, "Experiment YAML file");
  cmd->add_option("--config,-c", args->config, "Experiment YAML file");
  cmd->add_option("--set", args->overrides, "Override a config value: key.path=value (repeatable)");
}

struct CheckpointArgs {
  std::string checkpoint;
  std::vector<std::string> overrides;
};

// A subcommand over a checkpoint: --checkpoint DIR and --set overrides.
CLI::App* addCheckpointCommand(CLI::App& app, const char* name, const char* what, const char* set_example,
                               CheckpointArgs* args) {
  auto* cmd = app.add_subcommand(name, what);
  cmd->add_option("--checkpoint", args->checkpoint, "Checkpoint or run directory")->required();
  cmd->add_option("--set", args->overrides, std::string("Override a config value, e.g. ") + set_example);
  return cmd;
}

struct TrainArgs {
  autoglm::launch::ConfigArgs config;
  autoglm::launch::TrainOptions opts;
  std::string supervisor;
  int attempt = 0;
};

CLI::App* addTrainCommand(CLI::App& app, TrainArgs* a) {
  auto* train = app.add_subcommand("train", "Train a model from a YAML config");
  addConfigOptions(train, &a->config);
  auto* resume = train->add_flag("--resume", a->opts.resume, "Continue from the run's newest checkpoint that verifies");
  train->add_flag("--overwrite", a->opts.overwrite, "Start afresh even if run.out_dir holds checkpoints (removed)")
      ->excludes(resume);
  train->add_option("--init-from", a->opts.init_from,
                    "Fine-tune: start from this checkpoint's parameters (and its config unless one is given)");
  train->add_option("--data", a->opts.data_file, "Fine-tune on this file of text<TAB>label lines (with --init-from)");
  train->add_option("--supervisor", a->supervisor, "HOST:PORT of the autoglm-launch supervisor (set by autoglm-launch)");
  train->add_option("--attempt", a->attempt, "Attempt number under autoglm-launch (set by it)");
  return train;
}

int runTrainCommand(TrainArgs& a) {
  std::signal(SIGINT, onStopSignal);
  std::signal(SIGTERM, onStopSignal);
  a.opts.stop = &g_stop;
  std::shared_ptr<autoglm::launch::SupervisorClient> client;
  if (!a.supervisor.empty()) {
    const char* secret = std::getenv(autoglm::launch::kSecretVariable);
    client = std::make_shared<autoglm::launch::SupervisorClient>(
        a.supervisor, secret != nullptr ? secret : "", autoglm::comm::mpi::Environment::launchedRank(),
        autoglm::comm::mpi::Environment::launchedSize(), a.attempt,
        autoglm::launch::ClientOptions{std::chrono::milliseconds(200), [] { g_stop.store(true); }, {}});
    a.opts.comm_observer = client;
    a.opts.run_observer = client.get();
    a.opts.on_error = [client](const std::string& m, bool config) { client->reportError(m, config); };
  }
  return autoglm::launch::runTrain(a.config, a.opts);
}

struct ServeArgs {
  CheckpointArgs checkpoint;
  std::optional<int> port;
  std::optional<std::string> host;
};

// `serve --checkpoint DIR [--port N] [--host ADDR]`.
CLI::App* addServeCommand(CLI::App& app, ServeArgs* a) {
  auto* serve = addCheckpointCommand(app, "serve",
                                     "Serve a checkpoint over HTTP (POST /v1/classify or /v1/kg/complete, /healthz, "
                                     "/metrics)",
                                     "serve.max_batch=32, infer.exit_threshold=0.8", &a->checkpoint);
  serve->add_option("--port,-p", a->port, "Port to listen on, 0 for any free one (serve.port; wins over --set)")
      ->check(CLI::Range(0, 65535));
  serve->add_option("--host", a->host, "Address to listen on, e.g. 0.0.0.0 (serve.host; wins over --set)");
  return serve;
}

struct CompareArgs {
  std::string a, b;
  std::vector<std::string> overrides;
};

CLI::App* addCompareCommand(CLI::App& app, CompareArgs* args) {
  auto* compare = app.add_subcommand("compare", "Evaluate two checkpoints on the same test split, side by side");
  compare->add_option("a", args->a, "Checkpoint or run directory A")->required();
  compare->add_option("b", args->b, "Checkpoint or run directory B")->required();
  compare->add_option("--set", args->overrides, "Override a config value of both, e.g. data.dir=...");
  return compare;
}

struct VectorsArgs {
  autoglm::launch::VectorsImportOptions import;
  std::string info_file;
  CLI::App* command = nullptr;
  CLI::App* import_cmd = nullptr;
  CLI::App* info_cmd = nullptr;
};

// `vectors import IN OUT ...` and `vectors info FILE`.
CLI::App* addVectorsCommand(CLI::App& app, VectorsArgs* a) {
  namespace la = autoglm::launch;
  using autoglm::core::text::VectorDtype;
  auto* vectors = app.add_subcommand("vectors", "Pretrained word vectors (GloVe, word2vec, wink-embeddings JSON)");
  vectors->require_subcommand(1);
  auto* imp = vectors->add_subcommand("import", "Convert text or JSON word vectors to the binary .agvec format");
  la::VectorsImportOptions& o = a->import;
  imp->add_option("in", o.input, "GloVe/word2vec text, wink-embeddings JSON or .agvec (to subset it)")->required();
  imp->add_option("out", o.output, "The .agvec file to write (without it, only the coverage of --config)");
  imp->add_option_function<std::string>(
         "--format",
         [&o](const std::string& f) {
           o.format = f == "text"    ? la::VectorsFormat::kText
                      : f == "json"  ? la::VectorsFormat::kJson
                      : f == "agvec" ? la::VectorsFormat::kBinary
                                     : la::VectorsFormat::kAuto;
         },
         "auto (the default: .agvec by its magic, JSON when it starts with '{', else text), text, json or agvec")
      ->check(CLI::IsMember({"auto", "text", "json", "agvec"}));
  imp->add_option_function<std::string>(
         "--dtype", [&o](const std::string& d) { o.dtype = d == "bf16" ? VectorDtype::kBFloat16 : VectorDtype::kFloat32; },
         "Stored values: f32 (the default) or bf16")
      ->check(CLI::IsMember({"f32", "bf16"}));
  auto* cfg = imp->add_option("--config,-c", o.config, "Experiment YAML: report the coverage of its dataset");
  imp->add_option("--set", o.overrides, "Override a config value: key.path=value (repeatable)")->needs(cfg);
  imp->add_flag("--only-dataset-words", o.only_dataset_words,
                "Keep only the words of the config's dataset (all splits)")
      ->needs(cfg);
  auto* info = vectors->add_subcommand("info", "Describe a vectors file (dim, count, dtype; checksum verified)");
  info->add_option("file", a->info_file, "An .agvec or text vectors file")->required();
  a->import_cmd = imp;
  a->info_cmd = info;
  return vectors;
}

int runVectorsCommand(const VectorsArgs& a) {
  if (*a.import_cmd) return autoglm::launch::runVectorsImport(a.import, std::cout, std::cerr);
  return autoglm::launch::runVectorsInfo(a.info_file, std::cout);
}

struct GenerateArgs {
  autoglm::launch::GenerateKgOptions kg;
  CLI::App* command = nullptr;
  CLI::App* kg_cmd = nullptr;
};

// `generate kg --out DIR --entities N --relations R ...`: synthetic data; a
// group, so that other generators join it as subcommands.
CLI::App* addGenerateCommand(CLI::App& app, GenerateArgs* a) {
  auto* generate = app.add_subcommand("generate", "Synthetic data for scaling tests");
  generate->require_subcommand(1);
  auto* kg = generate->add_subcommand("kg", "A synthetic knowledge graph with a planted signal (ids or names form)");
  autoglm::launch::GenerateKgOptions& o = a->kg;
  autoglm::core::kg::KgGeneratorOptions& g = o.generator;
  const CLI::Range ids(int64_t{1}, (int64_t{1} << 32) - 1);
  kg->add_option("--out,-o", o.out, "Directory to write (created where missing)")->required();
  kg->add_option("--entities", g.entities, "Number of entities (ids 0..N-1)")->required()->check(ids);
  kg->add_option("--relations", g.relations, "Number of relations")->required()->check(ids);
  kg->add_option("--triples-per-entity", g.triples_per_entity, "Mean out-degree; fractions give sparse graphs")
      ->capture_default_str()->check(CLI::PositiveNumber);
  kg->add_option_function<std::string>(
         "--degree", [&g](const std::string& v) { autoglm::launch::parseDegree(v, &g); },
         "Head popularity: uniform or zipf:EXPONENT (default zipf:1.1)")
      ->check([](const std::string& v) {
        autoglm::core::kg::KgGeneratorOptions scratch;
        return autoglm::launch::parseDegree(v, &scratch);
      });
  kg->add_option("--max-degree", g.max_degree, "Most triples of one head")->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  kg->add_option("--clusters", o.clusters, "Planted clusters of entities (default 1000, at most --entities)")
      ->check(CLI::Range(int64_t{1}, (int64_t{1} << 32) - 1));
  kg->add_option("--noise", g.noise, "Fraction of triples with a uniformly random tail")->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  kg->add_option("--tail-skew", g.tail_skew, "Zipf exponent of tail popularity within a cluster (0: uniform)")
      ->capture_default_str()->check(CLI::Range(0.0, 100.0));
  kg->add_option("--valid-fraction", g.valid_fraction, "Share of the triples in valid.txt")->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  kg->add_option("--test-fraction", g.test_fraction, "Share of the triples in test.txt")->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  kg->add_option("--seed", g.seed, "Random seed (same seed, same files)")->capture_default_str();
  kg->add_flag("--names", o.names, "Names form: entities.dict, relations.dict and e<id>/r<id> triples");
  kg->add_flag("--overwrite", o.overwrite, "Replace the knowledge graph of a non-empty --out directory");
  a->kg_cmd = kg;
  return generate;
}

// `pretrain CONFIG`: contrastive pre-training of the encoder.
CLI::App* addPretrainCommand(CLI::App& app, autoglm::launch::ConfigArgs* args) {
  auto* pretrain = app.add_subcommand("pretrain", "Contrastive pre-training of the encoder (pretrain: section); "
                                                  "prints the checkpoint for train --init-from");
  addConfigOptions(pretrain, args);
  return pretrain;
}

// `prepare CONFIG [--force]`: the graph cache.
CLI::App* addPrepareCommand(CLI::App& app, autoglm::launch::ConfigArgs* args, bool* force) {
  auto* prepare = app.add_subcommand("prepare", "Build the binary graph cache for a config's data");
  addConfigOptions(prepare, args);
  prepare->add_flag("--force", *force, "Rebuild even when the cache is up to date");
  return prepare;
}

// `simulate WORKLOAD --cluster CLUSTER.yaml`: the performance model's scaling table.
CLI::App* addSimulateCommand(CLI::App& app, autoglm::launch::SimulateOptions* o, autoglm::launch::FitOptions* fit) {
  auto* cmd = app.add_subcommand("simulate", "Predict step time and scaling efficiency of a workload on a cluster");
  cmd->add_option("workload", o->workload, "Workload YAML (workload: section)")->check(CLI::ExistingFile);
  cmd->add_option("--cluster", o->cluster, "Cluster YAML (cluster: section), e.g. configs/clusters/*.yaml")
      ->check(CLI::ExistingFile);
  cmd->add_option("--fit", fit->csv, "Instead: fit a link's alpha and beta to all-reduce timings "
                  "(benchmarks/collective CSV)")->check(CLI::ExistingFile);
  cmd->add_option("--fit-column", fit->column, "Timing column of --fit, in microseconds")->capture_default_str();
  cmd->add_option("--set", o->overrides, "Override cluster.KEY=VALUE or workload.KEY=VALUE (repeatable)");
  cmd->add_option("--ranks", o->ranks, "Rank counts (default: powers of two up to the cluster's ranks)")
      ->delimiter(',')->check(CLI::PositiveNumber);
  cmd->add_option("--compressors", o->compressors, "Compressors to compare: none,fp16,bf16,onebit,topk "
                  "(default: the workload's)")->delimiter(',');
  cmd->add_option("--csv", o->csv, "Also write the table as CSV to this file");
  cmd->add_option("--profile", o->profile, "Instead: measure an experiment config's workload on this process "
                  "(--set then overrides the experiment)")->check(CLI::ExistingFile);
  cmd->add_option("--steps", o->profile_steps, "Timed steps of --profile")->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--out", o->out, "Write --profile's workload YAML here (default: stdout)");
  return cmd;
}

// `config show`: the resolved config.
CLI::App* addConfigShowCommand(CLI::App& app, autoglm::launch::ConfigArgs* args) {
  auto* config = app.add_subcommand("config", "Config utilities");
  config->require_subcommand(1);
  auto* show = config->add_subcommand("show", "Print the resolved config");
  addConfigOptions(show, args);
  return show;
}

// Parses the command line; returns the exit status where parsing ends the run
// (help, version, a bad flag). `generate` answers a bad flag with one line
// naming it and status 2, the other commands as CLI11 does.
std::optional<int> parseArguments(CLI::App& app, int argc, char** argv, const CLI::App& generate) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (generate && e.get_exit_code() != 0) {
      std::cerr << "autoglm generate: " << e.what() << std::endl;
      return 2;
    }
    return app.exit(e);
  }
  return std::nullopt;
}

// `extract --corpus FILE --out DIR ...`: a knowledge graph from a text corpus.
CLI::App* addExtractCommand(CLI::App& app, autoglm::launch::ExtractCommandOptions* o) {
  auto* cmd = app.add_subcommand("extract", "Knowledge-graph triples (subject, relation, object) from a text corpus, "
                                            "written as entities.dict, relations.dict, train/valid/test.txt");
  cmd->add_option("--corpus", o->corpus, "Corpus file, one document per line (e.g. data/r8/corpus.txt)")->required();
  cmd->add_option("--out", o->out, "Output directory (empty or absent unless --overwrite)")->required();
  cmd->add_option("--max-docs", o->max_docs, "Only the first N documents (0: all)");
  cmd->add_option("--valid-fraction", o->valid_fraction, "Share of the triples held out for valid.txt")
      ->capture_default_str();
  cmd->add_option("--test-fraction", o->test_fraction, "Share of the triples held out for test.txt")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of the valid/test draw")->capture_default_str();
  cmd->add_option("--min-count", o->min_count, "Keep triples extracted from at least N documents")
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "Documents parsed at once")->capture_default_str();
  cmd->add_flag("--overwrite", o->overwrite, "Write into a non-empty directory, replacing the five files");
  return cmd;
}

}  // namespace

int main(int argc, char** argv) {
  namespace tr = autoglm::trainer;
  namespace la = autoglm::launch;
  autoglm::core::configureHostRuntime();
  autoglm::core::log::init();
  CLI::App app{"Open-AutoGLM: graph attention networks over text, trained at scale"};
  app.set_version_flag("--version", std::string("autoglm ") + AUTOGLM_VERSION);
  app.require_subcommand(1);

  TrainArgs train_args;
  auto* train = addTrainCommand(app, &train_args);

  la::ConfigArgs pre_args;
  auto* pretrain = addPretrainCommand(app, &pre_args);
  la::ConfigArgs prep_args;
  bool force = false;
  auto* prepare = addPrepareCommand(app, &prep_args, &force);

  CheckpointArgs eval_args, pred_args;
  auto* eval = addCheckpointCommand(app, "eval", "Evaluate a checkpoint on the test split", "data.dir=...", &eval_args);
  auto* predict = addCheckpointCommand(app, "predict", "Classify text lines from stdin", "infer.exit_threshold=0.9",
                                       &pred_args);
  ServeArgs serve_args;
  auto* serve = addServeCommand(app, &serve_args);

  CompareArgs cmp_args;
  auto* compare = addCompareCommand(app, &cmp_args);

  la::ConfigArgs show_args;
  auto* show = addConfigShowCommand(app, &show_args);

  VectorsArgs vectors_args;
  vectors_args.command = addVectorsCommand(app, &vectors_args);
  GenerateArgs generate_args;
  generate_args.command = addGenerateCommand(app, &generate_args);

  la::ExtractCommandOptions extract_args;
  auto* extract = addExtractCommand(app, &extract_args);

  la::SimulateOptions simulate_args;
  la::FitOptions fit_args;
  auto* simulate = addSimulateCommand(app, &simulate_args, &fit_args);

  if (const std::optional<int> status = parseArguments(app, argc, argv, *generate_args.command)) return *status;
  try {
    if (*train) return runTrainCommand(train_args);
    if (*pretrain) return la::runPretrain(pre_args, std::cout);
    if (*prepare) return la::runPrepare(prep_args, force);
    if (*eval) return la::runEval(eval_args.checkpoint, eval_args.overrides);
    if (*predict) return la::runPredict(pred_args.checkpoint, pred_args.overrides, std::cin, std::cout);
    if (*serve) {
      la::addServeAddress(serve_args.host, serve_args.port, serve_args.checkpoint.overrides);
      return autoglm::launch::serve::runServe(serve_args.checkpoint.checkpoint, serve_args.checkpoint.overrides);
    }
    if (*compare) return tr::runCompare(cmp_args.a, cmp_args.b, cmp_args.overrides, std::cout);
    if (*show) return la::runConfigShow(show_args, std::cout);
    if (*vectors_args.command) return runVectorsCommand(vectors_args);
    if (*generate_args.kg_cmd) return la::runGenerateKg(generate_args.kg, std::cout, std::cerr);
    if (*extract) return la::runExtract(extract_args, std::cout, std::cerr);
    if (*simulate) return la::runSimulateCommand(simulate_args, fit_args, std::cout);
  } catch (const autoglm::ConfigError& e) {
    // Raised before MPI starts work (a rank's own errors are reported by the
    // rank, commands.cc): every rank of the job finds the same one, rank 0 says it.
    if (autoglm::comm::mpi::Environment::launchedRank() == 0) {
      std::cerr << "autoglm: config error: " << e.what() << std::endl;
    }
    return 2;
  } catch (const autoglm::Error& e) {
    std::cerr << "autoglm: error: " << e.what() << std::endl;
    return 1;
  } catch (const c10::Error& e) {
    std::cerr << "autoglm: error: " << e.what_without_backtrace() << std::endl;
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "autoglm: error: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
