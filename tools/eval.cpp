// `deepseek eval`: rebuilds the model a checkpoint was trained as (the recipe is stored in the
// checkpoint) and reports loss and accuracy on the test split.
#include <chrono>
#include <cstdio>

#include "deepseek/core/parallel.h"
#include "deepseek/io/checkpoint.h"
#include "deepseek/optim/sgd.h"
#include "deepseek/train/run.h"
#include "deepseek/train/trainer.h"
#include "tools/command.h"
#include "tools/run_config.h"
#include "tools/security_scope.h"

namespace {

int run(int argc, char** argv) {
  CLI::App app{"Evaluate a checkpoint on the test split", "deepseek eval"};
  deepseek::tools::RecipeFlags rf;
  rf.add_to(app, /*training=*/false);
  std::string checkpoint;
  bool json = false;
  app.add_option("--checkpoint,-c", checkpoint, "checkpoint written by deepseek train")->required();
  app.add_flag("--json", json, "print one JSON object on the last line");
  deepseek::tools::SecurityScope security;
  security.add_to(app);
  if (auto rc = deepseek::tools::parse_args(app, argc, argv)) return *rc;
  using namespace deepseek;
  const auto t0 = std::chrono::steady_clock::now();
  nn::ModulePtr model;
  train::Recipe recipe;
  try {
    // The security scope must be open before the checkpoint is read (model.load, decrypt).
    nlohmann::json user = rf.resolve();
    security.open(user, rf.config_path);
    auto [m, r] = train::load_trained_model(checkpoint);
    model = m;
    nlohmann::json cfg = rf.resolve(r.to_json());
    cfg.erase("security");
    recipe = train::Recipe::from_json(cfg);
  } catch (const models::ConfigError& e) {
    return tools::config_error("eval", e);
  }
  if (recipe.threads > 0) set_num_threads(static_cast<int>(recipe.threads));
  train::DataSplits d = train::load_data(recipe);
  auto loader = train::make_eval_loader(recipe, d.test);
  auto opt = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions{});
  train::TrainerOptions to;
  to.progress = "none";
  train::Trainer trainer(model, opt, to);
  auto m = trainer.evaluate(*loader, "test");
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  nlohmann::json out{{"checkpoint", checkpoint},
                     {"model", recipe.model_name()},
                     {"dataset", recipe.dataset},
                     {"test_samples", d.test->size()},
                     {"test_loss", m["test_loss"]},
                     {"time_s", secs}};
  if (m.count("test_accuracy")) out["test_accuracy"] = m["test_accuracy"];
  if (json)
    std::printf("%s\n", out.dump().c_str());
  else
    std::printf("%s on %s test (%lld examples): loss %.4f accuracy %.4f (%.1fs)\n",
                recipe.model_name().c_str(), recipe.dataset.c_str(),
                (long long)d.test->size(), m["test_loss"], m.count("test_accuracy") ? m["test_accuracy"] : 0.0, secs);
  return 0;
}

DEEPSEEK_COMMAND("eval", "evaluate a checkpoint on the test split", run);

}  // namespace
