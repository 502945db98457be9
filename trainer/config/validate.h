#pragma once
// The one validation of a whole experiment: every rule that reads more than one
// field (the layout against the world size, tp against the model's heads, pp
// against its parts, compression settings against each other and the
// optimizer, model features against the layout, what a model kind supports).
// It runs before MPI starts work and before any data is prepared, so a config
// that cannot run fails in well under a second with the key named. Single-
// field bounds are the config structs' own (visit() with core::check).

#include "trainer/config/experiment_config.h"

namespace autoglm::trainer {

// What the run is asked to do beyond its config.
struct RunRequest {
  int world_size = 1;     // ranks launched (1 without mpirun)
  bool resume = false;    // --resume
  bool init = false;      // --init-from
};

// Resolves parallel.dp left at 1 to the ranks that tp x pp leave (Megatron's
// rule), then checks every cross-field rule shared by the model kinds. Throws
// ConfigError naming the keys. What a model kind supports and its own rules
// are checked around it by validateRun (trainer/tasks/make_task.h), which is
// what a run calls.
void validateExperiment(ExperimentConfig* cfg, const RunRequest& run);

}  // namespace autoglm::trainer
