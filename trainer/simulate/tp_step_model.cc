#include "trainer/simulate/tp_step_model.h"

#include "core/error.h"

namespace autoglm::trainer::simulate {

TpStepCost tpStepCost(const TpShape& s, int64_t samples, const comm::cost::Topology& group) {
  TpStepCost out;
  if (group.ranks <= 1) return out;
  if (!s.known()) {
    throw ConfigError("simulate: tensor parallel needs workload.tensor_parallel (nodes_per_step, embed_dim, "
                      "block_width, layers; autoglm simulate --profile writes them)");
  }
  const double tp = static_cast<double>(group.ranks);
  const double n = s.nodes_per_step;
  const double b = static_cast<double>(samples);
  auto allreduce = [&](double floats) {
    out.seconds += comm::cost::allreduceSeconds(4.0 * floats, group);
    out.bytes += 4.0 * floats;
    ++out.collectives;
  };
  auto allgather = [&](double floats_per_rank) {
    out.seconds += comm::cost::allgatherSeconds(4.0 * floats_per_rank, group);
    out.bytes += 4.0 * floats_per_rank;
    ++out.collectives;
  };
  allreduce(n * static_cast<double>(s.embed_dim));  // embedding lookup
  for (int64_t k = 0; k < s.layers; ++k) {
    allgather(n * static_cast<double>(s.block_width) / tp);                                   // block output
    allreduce(n * static_cast<double>(k == 0 ? s.embed_dim : s.block_width));                 // backward: input
  }
  if (s.classes > 0) allreduce(b * static_cast<double>(s.classes));            // head logits
  if (s.readout_width > 0) allreduce(b * static_cast<double>(s.readout_width));  // backward: head input
  return out;
}

}  // namespace autoglm::trainer::simulate
