// `deepseek demo` (what `make demo` runs): trains the SmallCNN on Fashion-MNIST with the
// reference recipe (normalized inputs, Adam lr 1e-3, batch 128), evaluates on the 10,000 test
// images, saves a checkpoint, and prints a summary table. Asks for the 2 epochs of the
// reference recipe; the training time budget (--time-budget, 140 s) stops it early on a slower
// or busy machine, so the demo stays within 3 minutes on 2 cores (not counting the build), and
// the table says how many epochs it trained.
#include <cstdio>
#include <string>

#include "deepseek/core/parallel.h"
#include "deepseek/train/run.h"
#include "tools/command.h"
#include "tools/run_config.h"

namespace {

constexpr int64_t kDemoEpochs = 2;

int run(int argc, char** argv) {
  CLI::App app{"Train and evaluate the SmallCNN on Fashion-MNIST, then print a summary",
               "deepseek demo"};
  deepseek::tools::RecipeFlags rf;
  rf.add_to(app);
  bool json = false;
  double budget = 140;
  app.add_flag("--json", json, "print one JSON object on the last line");
  app.add_option("--time-budget", budget,
                 "stop training after this many seconds (0: no limit); keeps the demo under 3 minutes")
      ->check(CLI::NonNegativeNumber);
  if (auto rc = deepseek::tools::parse_args(app, argc, argv)) return *rc;
  using namespace deepseek;
  nlohmann::json base{{"model", "smallcnn"}, {"dataset", "fashion-mnist"}, {"epochs", kDemoEpochs},
                      {"batch_size", 128}, {"optimizer", "adam"}, {"lr", 1e-3},
                      {"normalize", true}, {"output_dir", "runs/demo"}, {"log_every", 100}};
  train::Recipe recipe;
  try {
    recipe = train::Recipe::from_json(rf.resolve(base));
  } catch (const models::ConfigError& e) {
    return tools::config_error("demo", e);
  }
  std::printf("deepseek demo: %s on %s, %s lr %g, batch %lld, %lld epoch(s), %d threads\n",
              recipe.model_name().c_str(), recipe.dataset.c_str(), recipe.optimizer.c_str(),
              recipe.lr, (long long)recipe.batch_size, (long long)recipe.epochs,
              recipe.threads > 0 ? int(recipe.threads) : num_threads());
  std::fflush(stdout);
  train::RunOptions ro;
  ro.time_budget_s = budget;
  nlohmann::json out = train::run_recipe(recipe, ro);
  auto row = [](const char* k, const std::string& v) { std::printf("| %-22s | %-28s |\n", k, v.c_str()); };
  auto fmt = [](const char* f, double v) {
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return std::string(b);
  };
  const std::string line = "+------------------------+------------------------------+";
  std::printf("\n%s\n", line.c_str());
  row("model", out["model"].get<std::string>() + " on " + out["dataset"].get<std::string>());
  row("test accuracy", fmt("%.2f %%", 100.0 * out.value("test_accuracy", 0.0)));
  row("test loss", fmt("%.4f", out["test_loss"].get<double>()));
  row("parameters", std::to_string(out["parameters"].get<int64_t>()));
  row("epochs / steps", fmt("%.2f", out["epochs_trained"].get<double>()) + " / " +
                            std::to_string(out["steps"].get<int64_t>()) +
                            (out["stopped_by_time_budget"].get<bool>() ? " (time budget)" : ""));
  row("images trained", std::to_string(out["train_samples"].get<int64_t>()));
  row("train time", fmt("%.1f s", out["train_time_s"].get<double>()));
  row("train throughput", fmt("%.0f images/s", out["train_samples_per_s"].get<double>()));
  row("eval throughput", fmt("%.0f images/s", out["eval_samples_per_s"].get<double>()));
  row("wall time (total)", fmt("%.1f s", out["total_time_s"].get<double>()));
  row("threads", std::to_string(out["threads"].get<int>()));
  row("checkpoint", out["checkpoint"].get<std::string>());
  std::printf("%s\n", line.c_str());
  if (json) std::printf("%s\n", out.dump().c_str());
  return 0;
}

DEEPSEEK_COMMAND("demo", "train + evaluate the SmallCNN on Fashion-MNIST, print a summary", run);

}  // namespace
