// `deepseek train`: trains a zoo model on a dataset from a recipe (--config file.yaml, flags,
// key=value overrides), writes checkpoints and metric logs under the output folder, evaluates
// on the test split, and with --json ends with one JSON object (test_accuracy, times, paths).
#include <cstdio>

#include "deepseek/train/run.h"
#include "tools/command.h"
#include "tools/run_config.h"
#include "tools/security_scope.h"

namespace {

int run(int argc, char** argv) {
  CLI::App app{"Train a model (defaults: smallcnn on fashion-mnist, Adam 1e-3, batch 128)",
               "deepseek train"};
  deepseek::tools::RecipeFlags rf;
  rf.add_to(app);
  std::string resume;
  bool json = false;
  app.add_option("--resume", resume, "continue from this checkpoint");
  app.add_flag("--json", json, "print one JSON object on the last line");
  deepseek::tools::SecurityScope security;
  security.add_to(app);
  if (auto rc = deepseek::tools::parse_args(app, argc, argv)) return *rc;

  deepseek::train::Recipe recipe;
  try {
    nlohmann::json cfg = rf.resolve();
    security.open(cfg, rf.config_path);
    recipe = deepseek::train::Recipe::from_json(cfg);
  } catch (const deepseek::models::ConfigError& e) {
    return deepseek::tools::config_error("train", e);
  }
  deepseek::train::RunOptions ro;
  ro.resume = resume;
  // With a security config: train.start is decided (and audited) before any data is read;
  // every checkpoint save/load goes through the hook; train.stop records how it ended.
  if (security) security->require(deepseek::security::action::train_start, recipe.output_dir);
  nlohmann::json out;
  try {
    out = deepseek::train::run_recipe(recipe, ro);
  } catch (const std::exception& e) {
    if (security) security->record(deepseek::security::action::train_stop, recipe.output_dir, {{"outcome", "error"}, {"error", e.what()}});
    throw;
  }
  if (security) {
    security->record(deepseek::security::action::train_stop, recipe.output_dir,
                     {{"outcome", "completed"},
                      {"steps", std::to_string(out["steps"].get<int64_t>())},
                      {"checkpoint", out["checkpoint"].get<std::string>()}});
    out["audit_log"] = security->log()->path();
    out["checkpoint_encrypted"] = security->encrypts();
  }
  if (json) {
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("%s on %s: test_accuracy %.4f test_loss %.4f (%lld steps, %.1fs, %.0f samples/s)\n",
                out["model"].get<std::string>().c_str(), out["dataset"].get<std::string>().c_str(),
                out.value("test_accuracy", 0.0), out["test_loss"].get<double>(),
                (long long)out["steps"].get<int64_t>(), out["train_time_s"].get<double>(),
                out["train_samples_per_s"].get<double>());
    std::printf("checkpoint: %s\nmetrics: %s, %s\n", out["checkpoint"].get<std::string>().c_str(),
                out["metrics_csv"].get<std::string>().c_str(),
                out["metrics_jsonl"].get<std::string>().c_str());
  }
  return 0;
}

DEEPSEEK_COMMAND("train", "train a model (zoo name or config) on a dataset", run);

}  // namespace
