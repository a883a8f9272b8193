// A training recipe: everything `deepseek train` (and the demo, and the benchmarks) needs to
// build a run — model spec, dataset, optimizer, schedule, batch size, seed, output folder —
// read strictly from JSON/YAML so a typo is a ConfigError (exit code 2 at the CLI), never a
// silently different run. Also builds the datasets, loaders and optimizer a recipe names.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "deepseek/data/dataloader.h"
#include "deepseek/nn/module.h"
#include "deepseek/optim/optimizer.h"
#include "deepseek/optim/scheduler.h"

namespace deepseek::train {

struct Recipe {
  nlohmann::json model = "smallcnn";  // a zoo name or {name: ..., config keys...}
  std::string dataset = "fashion-mnist";  // fashion-mnist | synthetic
  std::string data_dir;                   // "" : the dataset's default location
  int64_t epochs = 2;
  int64_t batch_size = 128;
  int64_t eval_batch_size = 1000;
  std::string optimizer = "adam";  // adam | adamw | sgd
  double lr = 1e-3;
  double weight_decay = 0.0;
  double momentum = 0.9;  // sgd only
  std::string scheduler = "none";  // none | cosine | step
  int64_t warmup_steps = 0;
  double max_grad_norm = 0.0;
  int64_t grad_accum_steps = 1;
  int64_t train_subset = 0;  // > 0: first n training examples
  int64_t test_subset = 0;   // > 0: first n test examples
  int64_t max_steps = -1;
  bool normalize = true;
  bool augment = false;  // random crop (pad 2) + horizontal flip
  uint64_t seed = 0;
  int64_t workers = 1;
  int64_t threads = 0;  // 0: leave the default
  bool deterministic = false;
  int64_t log_every = 50;
  std::string progress = "auto";
  std::string output_dir = "runs/train";
  int64_t checkpoint_every_steps = 0;

  static Recipe from_json(const nlohmann::json& j);  // throws models::ConfigError
  nlohmann::json to_json() const;
  std::string model_name() const;
};

struct DataSplits {
  std::shared_ptr<const data::Dataset> train, test;
  int64_t num_classes = 10;
};

// Loads the recipe's dataset (with subsets applied).
DataSplits load_data(const Recipe& r);
std::unique_ptr<data::DataLoader> make_train_loader(const Recipe& r, const DataSplits& d);
std::unique_ptr<data::DataLoader> make_eval_loader(const Recipe& r,
                                                   std::shared_ptr<const data::Dataset> ds);
// The model, with num_classes / in_channels / image_size filled in for image datasets when
// the model spec leaves them out.
nn::ModulePtr make_model(const Recipe& r, int64_t num_classes = 10);
std::shared_ptr<optim::Optimizer> make_optimizer(const Recipe& r, nn::Module& model);
// nullptr for scheduler "none"; `total_steps` sizes cosine schedules.
std::shared_ptr<optim::LRScheduler> make_scheduler(const Recipe& r, optim::Optimizer& opt,
                                                   int64_t total_steps);

// A small random image-classification set (1×28×28, 10 classes, labels learnable from the
// pixels) for tests and smoke runs that should not read Fashion-MNIST.
std::shared_ptr<const data::Dataset> synthetic_images(int64_t n, uint64_t seed);

}  // namespace deepseek::train
