#pragma once
// Transductive training (model.kind: corpus_gcn): one graph over the documents
// of every split and their words (core/graph/corpus_graph.h), a two-layer GCN
// over it (core/model/corpus_gcn.h), trained full batch on the training
// documents' labels. The validation and test documents are nodes of the graph
// from the start (their text, never their labels, shapes it), as in TextGCN;
// a model trained so classifies the documents of its corpus only, so the run
// writes the test predictions, not a checkpoint for predict or serve.
//
// The run section's seed, the data, tokenizer and corpus sections, model.dropout
// and the train section's epochs, optimizer, lr, weight_decay, label_smoothing,
// patience, select and log_every apply. The epoch kept is the best by
// train.select on the validation documents; the test documents are scored once,
// with it.
//
// With corpus.ensemble_checkpoint, the class probabilities of that trained
// per-document classifier (its best checkpoint) are mixed with the GCN's by
// corpus.ensemble_weight, as BertGCN mixes BERT's. Its run must have used the
// same data, seed and data.val_fraction, so that its validation documents are
// this run's and it never trained on them; else ConfigError. The accuracy
// reported is the mixture's; the log also gives each model's alone.
// Writes <out_dir>/test_predictions.tsv (corpus line, split, gold,
// predicted) and <out_dir>/result.json.

#include "trainer/experiment_config.h"
#include "trainer/trainer.h"

namespace autoglm::trainer {

// Throws ConfigError for settings this mode does not support (a parallel
// layout, pre-training), naming the keys.
void checkCorpusGcnConfig(const ExperimentConfig& cfg, int launched_ranks);

FitResult fitCorpusGcn(const ExperimentConfig& cfg);

}  // namespace autoglm::trainer
