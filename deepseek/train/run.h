// One training run from a Recipe, start to finish: seed, data, model, optimizer, Trainer with
// progress, checkpointing and CSV/JSONL metric logs under output_dir, test evaluation, final
// checkpoint. `deepseek train`, `deepseek demo` and the benchmarks all go through it, so they
// train the same way.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "deepseek/nn/module.h"
#include "deepseek/train/callback.h"
#include "deepseek/train/recipe.h"

namespace deepseek::train {

struct RunOptions {
  std::string resume;        // a checkpoint to continue from ("" : start fresh)
  double time_budget_s = 0;  // > 0: stop training (at a step boundary) after this many seconds
  std::vector<CallbackPtr> callbacks;  // added after the built-in ones
};

// Returns the summary: model, dataset, parameters, epochs, steps, train_loss, test_loss,
// test_accuracy, train_time_s, eval_time_s, total_time_s, train_samples_per_s,
// eval_samples_per_s, epochs_trained (fractional), stopped_by_time_budget, checkpoint, metrics_csv, metrics_jsonl, output_dir, seed, threads.
nlohmann::json run_recipe(const Recipe& recipe, const RunOptions& options = {});

// Rebuilds the model a checkpoint was trained as (from the recipe stored in its meta) and
// loads its weights. Returns the recipe too.
std::pair<nn::ModulePtr, Recipe> load_trained_model(const std::string& checkpoint_path);

}  // namespace deepseek::train
