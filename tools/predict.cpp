// `deepseek predict`: classifies test images with a trained checkpoint and prints (or writes
// as CSV) index, predicted class, confidence and true label.
#include <cstdio>
#include <fstream>

#include "deepseek/autograd/grad_mode.h"
#include "deepseek/core/parallel.h"
#include "deepseek/data/datasets/fashion_mnist.h"
#include "deepseek/train/run.h"
#include "tools/command.h"
#include "tools/run_config.h"
#include "tools/security_scope.h"

namespace {

int run(int argc, char** argv) {
  CLI::App app{"Predict classes of test images with a checkpoint", "deepseek predict"};
  deepseek::tools::RecipeFlags rf;
  rf.add_to(app, /*training=*/false);
  std::string checkpoint, output;
  int64_t start = 0, count = 10;
  bool json = false;
  app.add_option("--checkpoint,-c", checkpoint, "checkpoint written by deepseek train")->required();
  app.add_option("--start", start, "first test index")->check(CLI::NonNegativeNumber);
  app.add_option("--count,-n", count, "number of images")->check(CLI::PositiveNumber);
  app.add_option("--output,-o", output, "write all predictions as CSV here");
  app.add_flag("--json", json, "print one JSON object on the last line");
  deepseek::tools::SecurityScope security;
  security.add_to(app);
  if (auto rc = deepseek::tools::parse_args(app, argc, argv)) return *rc;
  using namespace deepseek;
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
    return tools::config_error("predict", e);
  }
  if (recipe.threads > 0) set_num_threads(static_cast<int>(recipe.threads));
  recipe.test_subset = 0;
  train::DataSplits d = train::load_data(recipe);
  if (start >= d.test->size()) {
    std::fprintf(stderr, "deepseek predict: --start %lld is past the %lld test examples\n",
                 (long long)start, (long long)d.test->size());
    return 2;
  }
  count = std::min(count, d.test->size() - start);
  std::vector<int64_t> idx(count);
  for (int64_t i = 0; i < count; ++i) idx[i] = start + i;
  auto subset = std::make_shared<data::Subset>(d.test, idx);
  auto loader = train::make_eval_loader(recipe, subset);
  autograd::NoGradGuard ng;
  std::vector<Tensor> probs, labels;
  for (auto& b : *loader) {
    probs.push_back(softmax(model->call({b.input})[0], 1));
    labels.push_back(b.target);
  }
  Tensor p = cat(probs, 0), y = cat(labels, 0);
  auto pv = p.to_vector<float>();
  auto yv = y.to_vector<int64_t>();
  const int64_t k = p.size(1);
  const bool named = recipe.dataset == "fashion-mnist" && k == 10;
  nlohmann::json preds = nlohmann::json::array();
  int64_t correct = 0;
  std::ofstream csv;
  if (!output.empty()) {
    csv.open(output);
    if (!csv) {
      std::fprintf(stderr, "deepseek predict: cannot write '%s'\n", output.c_str());
      return 1;
    }
    csv << "index,predicted,class,confidence,label\n";
  }
  for (int64_t i = 0; i < count; ++i) {
    int64_t best = 0;
    for (int64_t c = 1; c < k; ++c)
      if (pv[i * k + c] > pv[i * k + best]) best = c;
    correct += best == yv[i];
    std::string cname = named ? data::FashionMNIST::kClassNames[best] : std::to_string(best);
    preds.push_back({{"index", start + i}, {"predicted", best}, {"class", cname},
                     {"confidence", pv[i * k + best]}, {"label", yv[i]}});
    if (csv) csv << start + i << "," << best << "," << cname << "," << pv[i * k + best] << "," << yv[i] << "\n";
    if (!json && i < 50)
      std::printf("%6lld  %-12s %.3f  (label %s)\n", (long long)(start + i), cname.c_str(),
                  pv[i * k + best], named ? data::FashionMNIST::kClassNames[yv[i]] : std::to_string(yv[i]).c_str());
  }
  nlohmann::json out{{"checkpoint", checkpoint}, {"count", count}, {"accuracy", double(correct) / count}};
  if (!output.empty()) out["output"] = output;
  if (count <= 100) out["predictions"] = preds;
  if (json)
    std::printf("%s\n", out.dump().c_str());
  else
    std::printf("%lld of %lld correct\n", (long long)correct, (long long)count);
  return 0;
}

DEEPSEEK_COMMAND("predict", "classify test images with a trained checkpoint", run);

}  // namespace
