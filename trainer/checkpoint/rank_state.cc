#include "trainer/checkpoint/rank_state.h"

#include <spdlog/fmt/fmt.h>
#include <torch/serialize.h>

#include <sstream>

#include "core/error.h"
#include "trainer/checkpoint/checkpoint.h"

namespace autoglm::trainer {

namespace compression = parallel::data_parallel::compression;

std::string rankFileName(int rank) { return fmt::format("rank-{:05d}.pt", rank); }

std::string saveRankState(const compression::Compressor* compressor, compression::CompressionType type) {
  torch::serialize::OutputArchive a;
  a.write("rng", cpuRngState());
  std::string names;
  int i = 0;
  if (compressor != nullptr) {
    for (const auto& [name, t] : compressor->state()) {
      a.write("c" + std::to_string(i++), t);
      names += name + "\n";
    }
  }
  a.write("compressor", c10::IValue(names));
  a.write("compressor_type", c10::IValue(std::string(core::enumName(type))));
  std::ostringstream out;
  a.save_to(out);
  return out.str();
}

void loadRankState(const std::string& bytes, const std::string& what, compression::Compressor* compressor,
                   compression::CompressionType type) {
  try {
    torch::serialize::InputArchive a;
    a.load_from(bytes.data(), bytes.size());
    at::Tensor rng;
    a.read("rng", rng);
    c10::IValue names_v, type_v;
    a.read("compressor", names_v);
    a.read("compressor_type", type_v);
    if (type_v.toStringRef() != core::enumName(type)) {
      throw CheckpointError(what + ": written with parallel.compression.type=" + type_v.toStringRef() +
                            ", this run uses " + core::enumName(type));
    }
    compression::CompressorState state;
    std::istringstream names(names_v.toStringRef());
    std::string name;
    for (int i = 0; std::getline(names, name); ++i) {
      at::Tensor t;
      a.read("c" + std::to_string(i), t);
      state.emplace_back(name, t);
    }
    if (compressor != nullptr) compressor->loadState(state);
    setCpuRngState(rng);
  } catch (const c10::Error& e) {
    throw CheckpointError(what + ": unreadable rank state: " + e.what_without_backtrace());
  }
}

}  // namespace autoglm::trainer
