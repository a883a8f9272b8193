// Trainer: a short run reaches a stated loss; resuming from a checkpoint gives bit-identical
// next losses (deterministic mode, same threads; dropout, BatchNorm and a scheduler included);
// gradient accumulation matches one big batch; callbacks, loggers, evaluate and predict.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "deepseek/core/parallel.h"
#include "deepseek/models/models.h"
#include "deepseek/optim/adam.h"
#include "deepseek/optim/scheduler.h"
#include "deepseek/optim/sgd.h"
#include "deepseek/train/recipe.h"
#include "deepseek/train/train.h"

using namespace deepseek;
namespace fs = std::filesystem;

namespace {

struct LossRecorder : train::Callback {
  std::vector<double> losses;
  void on_step_end(train::Trainer&, const train::Metrics& m) override { losses.push_back(m.at("loss")); }
};

std::string temp_dir(const std::string& name) {
  auto d = fs::temp_directory_path() / ("deepseek_train_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d.string();
}

std::unique_ptr<data::DataLoader> loader(std::shared_ptr<const data::Dataset> ds, int64_t batch,
                                         bool shuffle = true) {
  data::DataLoaderOptions o;
  o.batch_size = batch;
  o.shuffle = shuffle;
  o.seed = 7;
  return std::make_unique<data::DataLoader>(std::move(ds), o);
}

train::TrainerOptions quiet(int64_t epochs = 1) {
  train::TrainerOptions o;
  o.epochs = epochs;
  o.progress = "none";
  return o;
}

nn::ModulePtr make_net(const std::string& kind, uint64_t seed) {
  manual_seed(seed);
  if (kind == "mlp")
    return std::make_shared<models::MLP>(models::MLPConfig::from_json({{"hidden", {64}}, {"dropout", 0.2}}));
  return std::make_shared<models::SmallCNN>(
      models::SmallCNNConfig::from_json({{"channels1", 8}, {"channels2", 8}, {"hidden", 16}}));
}

}  // namespace

TEST(Trainer, ShortRunReachesStatedLoss) {
  // MLP 784-64-10 on 2,048 synthetic images, Adam 1e-3, batch 64, 3 epochs: the third epoch's
  // mean train loss is below 0.1 (0.073 measured).
  auto ds = train::synthetic_images(2048, 1);
  manual_seed(1);
  auto model = std::make_shared<models::MLP>(models::MLPConfig::from_json({{"hidden", {64}}}));
  auto opt = std::make_shared<optim::Adam>(model->parameters());
  train::Trainer t(model, opt, quiet(3));
  auto dl = loader(ds, 64);
  auto logs = t.fit(*dl);
  EXPECT_LT(logs.at("train_loss"), 0.1);
  auto test = train::synthetic_images(512, 2);
  auto m = t.evaluate(*loader(test, 128, false), "test");
  EXPECT_GT(m.at("test_accuracy"), 0.98);
  EXPECT_EQ(t.state().step, 3 * 32);
}

class ResumeTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ResumeTest, NextLossesBitIdentical) {
  set_deterministic(true);
  const int threads = num_threads();
  auto ds = train::synthetic_images(256, 3);
  const std::string dir = temp_dir("resume_" + GetParam());
  auto run = [&](uint64_t seed, int64_t max_steps, const std::string& resume_from,
                 const std::string& save_to) {
    set_num_threads(threads);
    auto model = make_net(GetParam(), seed);
    auto opt = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions{.lr = 3e-3});
    auto o = quiet(3);  // 8 batches an epoch: the split at step 11 falls mid-epoch 2
    o.max_steps = max_steps;
    train::Trainer t(model, opt, o);
    t.set_scheduler(std::make_shared<optim::CosineWithWarmup>(*opt, 2, 24));
    auto rec = std::make_shared<LossRecorder>();
    t.add_callback(rec);
    if (!resume_from.empty()) t.load_checkpoint(resume_from);
    auto dl = loader(ds, 32);
    t.fit(*dl);
    if (!save_to.empty()) t.save_checkpoint(save_to);
    return rec->losses;
  };
  auto full = run(5, 16, "", "");
  ASSERT_EQ(full.size(), 16u);
  auto first = run(5, 11, "", dir + "/mid.ckpt");
  ASSERT_EQ(first.size(), 11u);
  for (size_t i = 0; i < first.size(); ++i) ASSERT_EQ(first[i], full[i]) << "step " << i;
  // A different init seed: everything must come from the checkpoint.
  auto rest = run(99, 16, dir + "/mid.ckpt", "");
  ASSERT_EQ(rest.size(), 5u);
  for (size_t i = 0; i < rest.size(); ++i)
    EXPECT_EQ(rest[i], full[11 + i]) << "step " << 11 + i << ": resumed loss differs";
  set_deterministic(false);
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Models, ResumeTest, ::testing::Values("mlp", "smallcnn"));

TEST(Trainer, GradAccumulationMatchesBigBatch) {
  auto ds = train::synthetic_images(128, 4);
  auto run = [&](int64_t batch, int64_t accum) {
    manual_seed(11);
    auto model = std::make_shared<models::MLP>(models::MLPConfig::from_json({{"hidden", {32}}}));
    auto opt = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions{.lr = 0.1});
    auto o = quiet(1);
    o.grad_accum_steps = accum;
    train::Trainer t(model, opt, o);
    auto dl = loader(ds, batch, false);
    t.fit(*dl);
    EXPECT_EQ(t.state().step, 128 / (batch * accum));
    return model->parameters()[0].clone();
  };
  Tensor a = run(32, 1), b = run(16, 2);
  EXPECT_TRUE(allclose(a, b, 1e-5, 1e-6));
}

TEST(Trainer, CallbacksLoggersAndEarlyStopping) {
  const std::string dir = temp_dir("callbacks");
  auto ds = train::synthetic_images(256, 5);
  manual_seed(2);
  auto model = std::make_shared<models::MLP>(models::MLPConfig::from_json({{"hidden", {16}}}));
  // lr 0: the validation loss never improves, so early stopping ends after patience + 1 epochs.
  auto opt = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions{.lr = 1e-12});
  auto o = quiet(10);
  o.log_every = 2;
  train::Trainer t(model, opt, o);
  auto es = std::make_shared<train::EarlyStopping>("val_loss", 1, "min", 1e-3);
  auto ck = std::make_shared<train::ModelCheckpoint>(dir + "/ck", train::ModelCheckpointOptions{.monitor = "val_loss"});
  t.add_callback(es).add_callback(ck);
  t.add_callback(std::make_shared<train::CSVLogger>(dir + "/m.csv"));
  t.add_callback(std::make_shared<train::JSONLLogger>(dir + "/m.jsonl"));
  auto train_dl = loader(ds, 64);
  auto val_dl = loader(train::synthetic_images(128, 6), 64, false);
  t.fit(*train_dl, val_dl.get());
  EXPECT_TRUE(es->stopped());
  EXPECT_EQ(t.state().epoch, 3);  // epoch 1 sets the best, 2 and 3 do not improve
  EXPECT_TRUE(fs::exists(ck->last_path()));
  EXPECT_TRUE(fs::exists(ck->best_path()));
  std::ifstream csv(dir + "/m.csv");
  std::string header, line;
  std::getline(csv, header);
  EXPECT_EQ(header.rfind("epoch,", 0), 0u) << header;
  EXPECT_NE(header.find("val_accuracy"), std::string::npos);
  int rows = 0;
  while (std::getline(csv, line)) ++rows;
  EXPECT_EQ(rows, 3);
  std::ifstream jl(dir + "/m.jsonl");
  int logs = 0, epochs = 0;
  while (std::getline(jl, line)) {
    auto j = nlohmann::json::parse(line);
    logs += j["event"] == "log";
    epochs += j["event"] == "epoch";
  }
  EXPECT_EQ(epochs, 3);
  EXPECT_EQ(logs, 3 * 2);  // 4 steps an epoch, a log every 2
  // predict: one row of logits per example.
  EXPECT_EQ(t.predict(*val_dl).sizes(), (Shape{128, 10}));
  fs::remove_all(dir);
}

TEST(Trainer, ProgressLinesWhenNotATerminal) {
  std::FILE* f = std::tmpfile();
  auto ds = train::synthetic_images(128, 8);
  manual_seed(3);
  auto model = std::make_shared<models::MLP>(models::MLPConfig::from_json({{"hidden", {8}}}));
  auto opt = std::make_shared<optim::Adam>(model->parameters());
  auto o = quiet(1);
  o.log_every = 1;
  train::Trainer t(model, opt, o);
  t.add_callback(std::make_shared<train::ProgressBar>("lines", f));
  auto dl = loader(ds, 64);
  t.fit(*dl);
  std::rewind(f);
  char buf[4096] = {};
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  std::string out(buf, n);
  EXPECT_NE(out.find("epoch 1/1 step 1 batch 1/2 loss"), std::string::npos) << out;
  EXPECT_NE(out.find("samples/s eta"), std::string::npos) << out;
  EXPECT_NE(out.find("epoch 1/1 done in"), std::string::npos) << out;
  EXPECT_EQ(out.find('\r'), std::string::npos);
  EXPECT_EQ(train::format_duration(3725), "1:02:05");
  EXPECT_EQ(train::format_duration(65), "01:05");
}

TEST(Recipe, StrictConfig) {
  EXPECT_NO_THROW(train::Recipe::from_json({{"model", "mlp"}, {"epochs", 1}}));
  EXPECT_THROW(train::Recipe::from_json({{"epoch", 1}}), models::ConfigError);
  EXPECT_THROW(train::Recipe::from_json({{"epochs", "two"}}), models::ConfigError);
  EXPECT_THROW(train::Recipe::from_json({{"batch_size", 0}}), models::ConfigError);
  EXPECT_THROW(train::Recipe::from_json({{"optimizer", "lion"}}), models::ConfigError);
  EXPECT_THROW(train::Recipe::from_json({{"model", "resnet9"}}), models::ConfigError);
  EXPECT_THROW(train::Recipe::from_json({{"model", {{"name", "mlp"}, {"widht", 3}}}}),
               models::ConfigError);
  EXPECT_THROW(train::Recipe::from_json({{"seed", -1}}), models::ConfigError);
}
