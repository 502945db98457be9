#include "trainer/tasks/graph_classification/classification_task.h"

#include <fmt/format.h>
#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include <filesystem>

#include "core/error.h"
#include "core/hash.h"
#include "core/log.h"
#include "parallel/data_parallel/distributed_sampler.h"
#include "comm/chunked_bytes.h"
#include "trainer/checkpoint/rank_state.h"
#include "trainer/checkpoint/shared_dir.h"
#include "trainer/tasks/pretrain/pretrainer.h"
#include "trainer/tasks/graph_classification/model_builder.h"

namespace autoglm::trainer {
namespace fs = std::filesystem;
using parallel::data_parallel::compression::CompressionType;

void validateClassification(const ExperimentConfig& cfg, const RunRequest& run) {
  if (cfg.pretrain.epochs > 0 && run.world_size > 1 && !run.init && !run.resume) {
    throw ConfigError(fmt::format("pretrain.epochs={} pre-trains on one process, and this is {} ranks: run "
                                  "`autoglm pretrain CONFIG` first, then `mpirun ... autoglm train CONFIG "
                                  "--init-from {}`", cfg.pretrain.epochs, run.world_size, Pretrainer::runDir(cfg)));
  }
}

ClassificationTask::ClassificationTask(const ExperimentConfig& cfg, const core::graph::PreparedData& data,
                                       parallel::ParallelGrid grid)
    : cfg_(cfg),
      data_(data),
      grid_(std::move(grid)),
      ckpt_((fs::path(cfg.run.out_dir) / "checkpoints").string(), cfg.train.keep_checkpoints) {
  const std::vector<int64_t> train_all = data.indicesOf(core::text::Split::kTrain);
  test_idx_ = data.indicesOf(core::text::Split::kTest);
  core::graph::splitValidation(train_all, cfg.data.val_fraction, static_cast<uint64_t>(cfg.run.seed), &train_idx_,
                               &val_idx_);
  if (train_idx_.empty()) throw DataError(data.cache_path + ": no training graphs left after the validation split");

  if (grid_.modelParallel() && grid_.world().size() > 1) {
    // Each shard's rank writes into the checkpoint folder: fail now, not at the first checkpoint.
    checkSharedDir(grid_.world(), ckpt_.dir(), cfg.run.out_dir,
                   fmt::format("parallel.tp={} parallel.pp={}", grid_.layout().tp(), grid_.layout().pp()));
  }
  const BuiltModel built = buildModel(cfg_, data, train_idx_, grid_);
  model_ = built.model;
  for (size_t f : built.stages.first) stage_first_.push_back(static_cast<int64_t>(f));
  // Every data-parallel replica starts from rank 0's parameters, then draws its
  // own dropout masks; the ranks of a tensor-parallel group draw alike.
  const int pp_rank = grid_.coord().pp;
  if (grid_.world().size() > 1 && (grid_.coord().dp > 0 || pp_rank > 0)) {
    at::manual_seed(static_cast<uint64_t>(cfg.run.seed) + 1000003ull * static_cast<uint64_t>(grid_.coord().dp) +
                    7919ull * static_cast<uint64_t>(pp_rank));
  }
  if (grid_.layout().pp() > 1) {
    // The model says what its parts output (the part before this stage's first,
    // and this stage's last): they size the activations that cross the link.
    const size_t first = built.stages.begin(pp_rank), last = built.stages.end(pp_rank) - 1;
    link_ = std::make_unique<parallel::pipeline::StageLink>(
        grid_.ppComm(), first > 0 ? model_->partOutput(first - 1) : core::model::PartOutput{}, model_->partOutput(last));
  }
  const int64_t accum = cfg.train.grad_accumulation;
  const int64_t steps_per_epoch = (static_cast<int64_t>(epochBatches(0).size()) + accum - 1) / accum;
  steps_ = std::make_unique<StepRunner>(cfg_, data.store, model_, grid_, steps_per_epoch, link_.get());
  evaluator_ = std::make_unique<Evaluator>(model_, cfg.train.eval_batch_graphs, &grid_.dp(), link_.get());
}

ClassificationTask::~ClassificationTask() = default;

std::string ClassificationTask::describe() const {
  int64_t params = 0;
  for (const auto& p : model_->parameters()) params += p.numel();
  return fmt::format("training {} graphs ({} validation, {} test), {} parameters, {} classes", train_idx_.size(),
                     val_idx_.size(), test_idx_.size(), params, data_.label_names.size());
}

void ClassificationTask::describeRun(TrainState* state) const {
  state->num_classes = static_cast<int64_t>(data_.label_names.size());
  state->vocab_size = data_.vocab.size();
  state->dp_world = grid_.layout().dp();
  state->compression = cfg_.parallel.compression.type;
}

std::vector<std::vector<int64_t>> ClassificationTask::epochBatches(int64_t epoch,
                                                                   std::vector<int64_t>* global_sizes) const {
  parallel::data_parallel::SamplerOptions so;
  so.seed = static_cast<uint64_t>(cfg_.run.seed);
  so.rank = grid_.coord().dp;
  so.world = grid_.layout().dp();
  parallel::data_parallel::DistributedSampler sampler(train_idx_, so);
  const core::graph::BatchLimits limits{cfg_.train.batch_graphs, cfg_.train.batch_nodes};
  return sampler.epochBatches(epoch, limits, [&](int64_t i) { return data_.store.numNodes(i); }, global_sizes);
}

EpochPlan ClassificationTask::planEpoch(int64_t epoch) {
  EpochPlan plan;
  batches_ = epochBatches(epoch, &plan.global_items);
  planned_epoch_ = epoch;
  return plan;
}

double ClassificationTask::trainStep(int64_t first, int64_t last, int64_t items, int64_t step) {
  AUTOGLM_CHECK(planned_epoch_ >= 0 && last <= static_cast<int64_t>(batches_.size()), "step outside the planned epoch");
  const std::vector<std::vector<int64_t>> micro(batches_.begin() + first, batches_.begin() + last);
  return steps_->run(micro, items, step);
}

double ClassificationTask::meanOverRanks(double loss_sum) {
  if (grid_.layout().dp() == 1) return loss_sum;
  at::Tensor l = at::tensor({static_cast<float>(loss_sum)}, at::TensorOptions().dtype(at::kFloat));
  grid_.dp().allreduce(l, {comm::ReduceOp::kAvg})->wait();
  return l.item<double>();
}

bool ClassificationTask::anyRank(bool local) {
  if (grid_.world().size() == 1) return local;
  // A signal may reach the ranks at different steps: stop where any rank asked.
  at::Tensor t = at::full({1}, local ? 1 : 0, at::TensorOptions().dtype(at::kInt));
  grid_.world().allreduce(t, {comm::ReduceOp::kMax})->wait();
  return t.item<int32_t>() != 0;
}

Scores ClassificationTask::evaluate() {
  const EvalResult val = evaluator_->evaluate(data_.store, val_idx_);
  const EvalResult test = evaluator_->evaluate(data_.store, test_idx_);
  Scores s;
  s.has_validation = !val_idx_.empty();
  s.val_metric = val.accuracy;
  s.val_loss = val.loss;
  s.test_metric = test.accuracy;
  s.test_loss = test.loss;
  return s;
}

EvalResult ClassificationTask::evaluate(EvalSplit split) {
  return evaluator_->evaluate(data_.store, split == EvalSplit::kTest ? test_idx_ : val_idx_);
}

std::string ClassificationTask::epochLine(const EpochReport& r) const {
  return fmt::format("epoch {}/{}: loss {:.4f} val_acc {:.4f} test_acc {:.4f} {:.0f} graphs/s ({:.1f}s)", r.epoch,
                     r.epochs, r.train_loss, r.scores.val_metric, r.scores.test_metric.value_or(0.0), r.items_per_s,
                     r.seconds);
}

nlohmann::json ClassificationTask::epochMetrics(const EpochReport& r) const {
  return {{"train_loss", r.train_loss},          {"val_loss", r.scores.val_loss},
          {"val_accuracy", r.scores.val_metric}, {"test_loss", r.scores.test_loss.value_or(0.0)},
          {"test_accuracy", r.scores.test_metric.value_or(0.0)}, {"graphs_per_s", r.items_per_s},
          {"epoch_seconds", r.seconds}};
}

CheckpointLayout ClassificationTask::layout() const {
  return {grid_.layout().dp(), grid_.layout().tp(), grid_.layout().pp(), cfg_.parallel.compression.type, stage_first_};
}

void ClassificationTask::save(const std::string& name, const TrainState& state) {
  CheckpointPayload p;
  p.state = state.toJson();
  p.vocab_tokens = data_.vocab.tokens();
  p.label_names = data_.label_names;
  p.config_yaml = cfg_.toYaml();
  ShardedSave s;
  s.grid = &grid_;
  s.model = model_.get();
  s.optimizer = &steps_->optimizer();
  s.layout = layout();
  auto* reducer = steps_->reducer();
  s.rank_state = saveRankState(reducer != nullptr ? &reducer->compressor() : nullptr, cfg_.parallel.compression.type);
  saveShardedCheckpoint(ckpt_, name, std::move(p), s);
}

TrainState ClassificationTask::restore(const CheckpointInfo& ckpt) {
  if (ckpt.vocab_tokens != data_.vocab.tokens() || ckpt.label_names != data_.label_names) {
    throw CheckpointError(ckpt.dir + ": vocabulary or labels differ from the prepared data; "
                          "resume with the same data and vocab settings");
  }
  const TrainState saved = TrainState::fromJson(ckpt.state, ckpt.dir + "/state.json");
  CheckpointLayout was;
  if (rootReadsAlone()) {
    std::string written;
    if (root()) written = layoutJson(loadShardedModel(ckpt, *model_, &steps_->optimizer())).dump();
    was = layoutFromJson(nlohmann::json::parse(comm::broadcastBytes(grid_.world(), written, 0)));
    broadcastModelState(grid_.world(), *model_, &steps_->optimizer(), 0);
  } else {
    was = loadShardedModel(ckpt, *model_, &steps_->optimizer());
  }
  if (was == layout()) {
    restoreRankState(ckpt);
  } else {
    // Another layout (or stage cut): no rank here has the buckets, the parts
    // or the shard of the data a saved rank state belongs to. Fresh streams,
    // the same on every run.
    at::manual_seed(static_cast<uint64_t>(cfg_.run.seed) + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(saved.step) +
                    1000003ull * static_cast<uint64_t>(grid_.coord().dp) + 7919ull * static_cast<uint64_t>(grid_.coord().pp));
    core::log::warn0("{} was written at {}, this run is {}: parameters and Adam moments resliced, RNG streams "
                     "derived again, compressor residuals {}", ckpt.dir, was.str(), layout().str(),
                     was.compression == CompressionType::kNone ? "none to carry"
                                                               : "dropped (error feedback restarts from zero)");
  }
  return saved;
}

void ClassificationTask::restoreRankState(const CheckpointInfo& ckpt) {
  const std::string file = rankFileName(grid_.worldRank());
  std::string bytes;
  if (rootReadsAlone()) {
    std::vector<std::string> all;
    if (root()) {
      for (int r = 0; r < grid_.world().size(); ++r) all.push_back(readCheckpointFile(ckpt, rankFileName(r)));
    }
    bytes = comm::scatterBytes(grid_.world(), all, 0);
  } else {
    bytes = readCheckpointFile(ckpt, file);
  }
  auto* reducer = steps_->reducer();
  loadRankState(bytes, ckpt.dir + "/" + file, reducer != nullptr ? &reducer->compressor() : nullptr,
                cfg_.parallel.compression.type);
}

void ClassificationTask::initFrom(const CheckpointInfo& ckpt) {
  if (rootReadsAlone()) {
    if (root()) loadShardedModel(ckpt, *model_, nullptr);
    broadcastModelState(grid_.world(), *model_, nullptr, 0);
  } else {
    loadShardedModel(ckpt, *model_, nullptr);
  }
  core::log::info0("initialised the model from {}", ckpt.dir);
}

void ClassificationTask::barrier() {
  grid_.world().barrier({})->wait();
}

CheckpointInfo ClassificationTask::fromRoot(const std::optional<CheckpointInfo>& on_root, const std::string& error) {
  return checkpointFromRoot(grid_.world(), on_root, error);
}

}  // namespace autoglm::trainer
