// Runs the autoglm binary on bad inputs as a user would and checks the exit
// status and the one-line error on stderr.

#include <sys/wait.h>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/trainer/test_util.h"
#include "trainer/simulate/simulate_config.h"

namespace autoglm::trainer {
namespace {
using testing::TempDir;

struct Result {
  int status;
  std::string out, err;
};

Result run(const std::string& args, const TempDir& dir) {
  const std::string out = (dir / "stdout.txt").string(), err = (dir / "stderr.txt").string();
  const std::string cmd = std::string(AUTOGLM_BINARY) + " " + args + " >" + out + " 2>" + err + " </dev/null";
  const int rc = std::system(cmd.c_str());
  auto slurp = [](const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, slurp(out), slurp(err)};
}

// The error is the last stderr line, it is the only line that says "error", and nothing crashed.
void expectOneLineError(const Result& r, int status, const std::string& needle) {
  EXPECT_EQ(r.status, status) << r.err;
  std::istringstream lines(r.err);
  std::string line, last;
  int error_lines = 0;
  while (std::getline(lines, line)) {
    if (line.find("error") != std::string::npos) ++error_lines;
    last = line;
  }
  EXPECT_EQ(error_lines, 1) << r.err;
  EXPECT_EQ(last.rfind("autoglm: ", 0), 0u) << r.err;
  EXPECT_NE(last.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.err;
  EXPECT_EQ(r.err.find("terminate"), std::string::npos) << r.err;
}

std::string writeConfig(const TempDir& dir, const std::string& body) {
  const std::string path = (dir / "x.yaml").string();
  std::ofstream(path) << body;
  return path;
}

const std::string kR8 = std::string(AUTOGLM_SOURCE_ROOT) + "/data/r8";

TEST(Cli, UnknownConfigKeyExitsTwo) {
  TempDir d("cli");
  auto cfg = writeConfig(d, "train:\n  learning_rate: 0.1\n");
  expectOneLineError(run("train --config " + cfg, d), 2, "x.yaml:2: unknown key 'train.learning_rate'");
}

TEST(Cli, NegativeLearningRateExitsTwo) {
  TempDir d("cli");
  auto cfg = writeConfig(d, "train:\n  lr: -0.001\n");
  expectOneLineError(run("train " + cfg, d), 2, "x.yaml:2: train.lr=-0.001: must be > 0");
  expectOneLineError(run("config show --config " + cfg + " --set train.lr=0.01 --set train.epochs=-2", d), 2,
                     "train.epochs=-2: must be >= 1");
}

TEST(Cli, MissingDataFileNamesTheFile) {
  TempDir d("cli");
  std::ofstream(d / "labels.txt") << "0\ttrain\ta\n";
  auto cfg = writeConfig(d, "data:\n  dir: " + d.str() + "\n  cache_dir: " + d.str() + "/cache\n");
  expectOneLineError(run("train " + cfg, d), 1, "corpus.clean.txt: file not found (data.corpus)");
}

TEST(Cli, EmptyDocumentNamesFileAndLine) {
  TempDir d("cli");
  std::ofstream(d / "corpus.clean.txt") << "oil prices rise\n\nwheat exports fall";
  std::ofstream(d / "labels.txt") << "0\ttrain\tcrude\n1\ttrain\tgrain\n2\ttest\tgrain";
  auto cfg = writeConfig(d, "data:\n  dir: " + d.str() + "\n  cache_dir: " + d.str() + "/cache\n");
  expectOneLineError(run("prepare " + cfg, d), 1, "corpus.clean.txt:2: document 1 is empty");
}

TEST(Cli, CorruptCacheIsDetected) {
  TempDir d("cli");
  auto cfg = writeConfig(d, "data:\n  dir: " + kR8 + "\n  cache_dir: " + d.str() +
                                "/cache\nrun:\n  out_dir: " + d.str() + "/run\ntrain:\n  epochs: 1\n");
  Result prep = run("prepare " + cfg, d);
  ASSERT_EQ(prep.status, 0) << prep.err;
  std::string cache = prep.out.substr(0, prep.out.find('\n'));
  {
    std::fstream f(cache, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096);
    f.put('\x01');
    f.put('\x02');
  }
  expectOneLineError(run("train " + cfg, d), 1, "corrupt graph cache: payload checksum mismatch");
}

TEST(Cli, ConfigShowPrintsResolvedConfig) {
  TempDir d("cli");
  auto cfg = writeConfig(d, "model:\n  heads: 8\n");
  Result r = run("config show " + cfg + " --set train.epochs=3", d);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("heads: 8"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("epochs: 3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("embed_dim: 128"), std::string::npos) << r.out;  // defaults shown
}

TEST(Cli, MissingCheckpointIsAClearError) {
  TempDir d("cli");
  expectOneLineError(run("eval --checkpoint " + d.str() + "/none", d), 1, "checkpoint not found");
}

TEST(Cli, DataParallelLayoutWithoutMpirunSaysHowToLaunch) {
  TempDir d("cli");
  auto cfg = writeConfig(d, "parallel:\n  dp: 2\n");
  expectOneLineError(run("train " + cfg, d), 2, "launch with mpirun -np 2 autoglm train");
}

TEST(Cli, BadCompressionSettingNamesTheKey) {
  TempDir d("cli");
  auto cfg = writeConfig(d, "parallel:\n  compression:\n    type: topk\n    ratio: 1.5\n");
  expectOneLineError(run("train " + cfg, d), 2, "x.yaml:4: parallel.compression.ratio=1.5: must be in (0, 1]");
}

}  // namespace
}  // namespace autoglm::trainer

namespace autoglm::trainer {
namespace {

TEST(Cli, FreshTrainIntoAUsedOutDirExitsTwoAndOverwriteReplaces) {
  TempDir d("cli_used");
  auto cfg = writeConfig(d, "run:\n  out_dir: " + d.str() + "/run\ndata:\n  dir: " + kR8 + "\n  cache_dir: " + d.str() +
                                "/cache\ngraph:\n  max_doc_len: 32\nmodel:\n  embed_dim: 8\n  layers: 1\n  heads: 1\n"
                                "  head_dim: 8\n  head_hidden: 0\ntrain:\n  max_steps: 2\n  batch_graphs: 256\n"
                                "  progress: off\n");
  ASSERT_EQ(run("train " + cfg, d).status, 0);
  expectOneLineError(run("train " + cfg, d), 2, "already holds checkpoints");
  const Result over = run("train " + cfg + " --overwrite", d);
  EXPECT_EQ(over.status, 0) << over.err;
  EXPECT_NE(run("train " + cfg + " --overwrite --resume", d).status, 0) << "the two flags exclude each other";
}

}  // namespace
}  // namespace autoglm::trainer

namespace autoglm::trainer {
namespace {

TEST(Cli, SimulatePrintsTheScalingTableAndRejectsBadKeys) {
  TempDir d("cli_simulate");
  const std::string root = AUTOGLM_SOURCE_ROOT;
  const std::string files =
      root + "/configs/workloads/resnet101_p100.yaml --cluster " + root + "/configs/clusters/horovod_roce25.yaml";
  const std::string csv = (d / "scaling.csv").string();
  const Result ok = run("simulate " + files + " --ranks 1,512 --compressors none,topk --csv " + csv, d);
  ASSERT_EQ(ok.status, 0) << ok.err;
  EXPECT_NE(ok.out.find("| 512 | 128 | none |"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("| 512 | 128 | topk |"), std::string::npos) << ok.out;
  std::ifstream in(csv);
  std::string header;
  std::getline(in, header);
  EXPECT_EQ(header.rfind("ranks,nodes,compression,step_s", 0), 0u) << header;
  expectOneLineError(run("simulate " + files + " --set nodes=4", d), 2, "keys start with cluster. or workload.");
  expectOneLineError(run("simulate " + files + " --set cluster.intra.bandwidth=4", d), 2, "unknown key");
  expectOneLineError(run("simulate " + files + " --ranks 1024", d), 2, "1024 ranks requested, it has 512");
  expectOneLineError(run("simulate " + files + " --compressors zip", d), 2, "--compressors zip: must be one of");
  expectOneLineError(run("simulate", d), 2, "give a WORKLOAD file and --cluster");

  // --fit: alpha and beta from the collective benchmark's CSV (measured here, two ranks).
  const Result fit = run("simulate --fit " + root + "/benchmarks/collective/results/allreduce_np2_run2.csv", d);
  ASSERT_EQ(fit.status, 0) << fit.err;
  EXPECT_NE(fit.out.find("2 ranks, 13 sizes: alpha"), std::string::npos) << fit.out;
  EXPECT_NE(fit.out.find("cluster file: {bandwidth_gbit:"), std::string::npos) << fit.out;
  const std::string bad = (d / "bad.csv").string();
  std::ofstream(bad) << "ranks,bytes,ours_us\n2,4,1.0\n2,x,2.0\n";
  expectOneLineError(run("simulate --fit " + bad, d), 1, "bad.csv:3: expected 3 numeric fields");
  std::ofstream(bad) << "ranks,bytes\n2,4\n";
  expectOneLineError(run("simulate --fit " + bad, d), 1, "bad.csv:1: no column 'ours_us'");
}

// --profile: a workload measured from an experiment (a small generated corpus),
// which simulate then reads back; its tensors are the model's parameters.
TEST(Cli, SimulateProfileWritesAWorkloadSimulateReads) {
  TempDir d("cli_simulate_profile");
  const std::string root = AUTOGLM_SOURCE_ROOT;
  const std::string sets = " --set data.cache_dir=" + (d / "cache").string() +
                           " --set data.synthetic.documents=200 --set model.embed_dim=16 --set data.synthetic.vocab=500"
                           " --set train.batch_graphs=16";
  const std::string yaml = (d / "w.yaml").string();
  const Result prof = run("simulate --profile " + root + "/configs/synthetic_gat.yaml --steps 3 --out " + yaml + sets, d);
  ASSERT_EQ(prof.status, 0) << prof.err;
  EXPECT_NE(prof.out.find("workload: " + yaml), std::string::npos) << prof.out;
  const trainer::simulate::WorkloadConfig w = trainer::simulate::loadWorkload(yaml);
  EXPECT_EQ(w.samples_per_rank, 16);
  EXPECT_EQ(w.tensor_numels.front() % 16, 0) << "the embedding first (vocabulary x embed_dim)";
  EXPECT_GT(w.forward_ms + w.backward_ms, 0.0);
  EXPECT_GT(w.compress_ns_per_element.onebit, 0.0);
  EXPECT_GT(w.compress_ns_per_element.topk, 0.0);
  const Result sim = run("simulate " + yaml + " --cluster " + root + "/configs/clusters/horovod_roce25.yaml --ranks 1,8", d);
  ASSERT_EQ(sim.status, 0) << sim.err;
  EXPECT_NE(sim.out.find("| 8 | 2 | none |"), std::string::npos) << sim.out;
  expectOneLineError(run("simulate --profile " + root + "/configs/wn18rr_complex.yaml", d), 2,
                     "only gat (graph classification) is profiled");
  expectOneLineError(run("simulate --profile " + root + "/configs/synthetic_gat.yaml --cluster " + root +
                             "/configs/clusters/horovod_roce25.yaml", d),
                     2, "--profile CONFIG takes no WORKLOAD");
}

}  // namespace
}  // namespace autoglm::trainer

namespace autoglm::trainer {
namespace {

TEST(Cli, SyntheticCorpusTrainsAndRefusesTheCorpusGcn) {
  TempDir d("cli_synthetic");
  const std::string cfg = std::string(AUTOGLM_SOURCE_ROOT) + "/configs/synthetic_gat.yaml";
  const std::string common = " --set run.out_dir=" + d.str() + "/run --set data.cache_dir=" + d.str() +
                             "/cache --set data.synthetic.documents=300 --set train.max_steps=3 --set train.progress=off";
  const Result ok = run("train " + cfg + common, d);
  ASSERT_EQ(ok.status, 0) << ok.err;
  EXPECT_NE(ok.out.find("test accuracy"), std::string::npos) << ok.out;
  expectOneLineError(run("train " + cfg + common + " --set model.kind=corpus_gcn", d), 2,
                     "data.format=synthetic generates document graphs for model.kind=gat, not corpus_gcn");
  expectOneLineError(run("train " + cfg + common + " --set data.synthetic.nodes_max=30000", d), 2,
                     "data.synthetic.nodes_max=30000: a document's nodes are distinct words");
}

}  // namespace
}  // namespace autoglm::trainer
