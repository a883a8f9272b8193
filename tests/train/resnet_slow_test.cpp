// Slow (ctest -L slow): ResNet-18 with the small-image stem trains on the CPU — its loss falls
// steadily over 200 steps of Adam on Fashion-MNIST (synthetic images when the dataset package
// is not installed). Full accuracy runs belong to the GPU.
#include <gtest/gtest.h>

#include <filesystem>
#include <numeric>

#include "deepseek/train/recipe.h"
#include "deepseek/train/train.h"

using namespace deepseek;

namespace {
struct LossRecorder : train::Callback {
  std::vector<double> losses;
  void on_step_end(train::Trainer&, const train::Metrics& m) override { losses.push_back(m.at("loss")); }
};
}  // namespace

TEST(TrainerSlow, ResNet18SmallStemLossFalls200Steps) {
  train::Recipe r = train::Recipe::from_json(
      {{"model", "resnet18"},
       {"dataset", std::filesystem::exists("/usr/share/datasets/fashion-mnist") ? "fashion-mnist" : "synthetic"},
       {"batch_size", 32}, {"train_subset", 6400}, {"lr", 1e-3}, {"progress", "lines"},
       {"log_every", 25}});
  manual_seed(0);
  auto d = train::load_data(r);
  auto dl = train::make_train_loader(r, d);
  auto model = train::make_model(r);
  auto opt = train::make_optimizer(r, *model);
  train::TrainerOptions o;
  o.epochs = 1;
  o.max_steps = 200;
  o.log_every = 25;
  o.progress = "lines";
  train::Trainer t(model, opt, o);
  auto rec = std::make_shared<LossRecorder>();
  t.add_callback(rec);
  t.fit(*dl);
  ASSERT_EQ(rec->losses.size(), 200u);
  std::vector<double> means;
  for (int w = 0; w < 4; ++w)
    means.push_back(std::accumulate(rec->losses.begin() + 50 * w, rec->losses.begin() + 50 * (w + 1), 0.0) / 50);
  for (int w = 1; w < 4; ++w) EXPECT_LT(means[w], means[w - 1]) << "window " << w;
  EXPECT_LT(means[3], 0.6 * means[0]);
  std::printf("ResNet-18 small stem, mean loss per 50 steps: %.4f %.4f %.4f %.4f\n", means[0], means[1],
              means[2], means[3]);
}
