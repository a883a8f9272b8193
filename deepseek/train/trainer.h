// Trainer: the training loop a user would otherwise write by hand — forward, loss, backward,
// gradient accumulation and clipping, optimizer and scheduler steps, evaluation, checkpoints
// and callbacks — for any nn::Module fed by a data::DataLoader.
//
//   auto model = std::make_shared<models::SmallCNN>();
//   auto opt = std::make_shared<optim::Adam>(model->parameters());
//   train::Trainer trainer(model, opt, {.epochs = 2});
//   trainer.fit(train_loader, &test_loader);
//
// Resuming: a checkpoint holds model, optimizer, scheduler, step, epoch, the position in the
// epoch and the RNG state; fit() after load_checkpoint() continues at the next batch (the
// DataLoader's order depends only on (seed, epoch)), so the next losses are bit-identical to
// an uninterrupted run's (same thread count, deterministic mode).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "deepseek/data/dataloader.h"
#include "deepseek/io/checkpoint.h"
#include "deepseek/nn/module.h"
#include "deepseek/optim/optimizer.h"
#include "deepseek/optim/scheduler.h"
#include "deepseek/train/callback.h"

namespace deepseek::train {

// output, target -> scalar loss. Default: cross_entropy.
using LossFn = std::function<Tensor(const Tensor& output, const Tensor& target)>;

struct TrainerOptions {
  int64_t epochs = 1;
  int64_t max_steps = -1;            // stop after this many optimizer steps (-1: no limit)
  int64_t grad_accum_steps = 1;      // batches per optimizer step
  double max_grad_norm = 0.0;        // > 0: clip the global gradient norm
  int64_t log_every = 50;            // optimizer steps between on_log calls
  std::string progress = "auto";     // auto (bar on a terminal, else lines) | bar | lines | none
  int64_t limit_train_batches = -1;  // per epoch (-1: all)
  int64_t limit_eval_batches = -1;
  bool scheduler_per_step = true;    // false: scheduler.step() once per epoch
};

struct TrainState {
  int64_t epoch = 0;           // current (or next) epoch
  int64_t batch = 0;           // batches done in the current epoch
  int64_t step = 0;            // optimizer steps done
  int64_t samples_seen = 0;    // over the whole run, resumed runs included
  int64_t epoch_batches = 0;   // batches this epoch will run
  int64_t epoch_samples = 0;   // samples done this epoch
  double epoch_loss_sum = 0;   // sum of batch losses × batch sizes this epoch
  double last_loss = 0;
  bool should_stop = false;
  std::chrono::steady_clock::time_point epoch_start;
  double running_loss() const { return epoch_samples ? epoch_loss_sum / epoch_samples : 0.0; }
};

class Trainer {
 public:
  Trainer(nn::ModulePtr model, std::shared_ptr<optim::Optimizer> optimizer,
          TrainerOptions options = {}, LossFn loss = {});

  Trainer& set_scheduler(std::shared_ptr<optim::LRScheduler> scheduler);
  Trainer& add_callback(CallbackPtr callback);

  // Trains from the current state (fresh, or where a loaded checkpoint left off) up to
  // options.epochs; evaluates on `val` after each epoch. Returns the last epoch's logs.
  Metrics fit(data::DataLoader& train, data::DataLoader* val = nullptr);
  // Mean loss and, for (N, C) outputs with (N) integer targets, accuracy; keys are
  // prefix + "_loss", prefix + "_accuracy". Runs in eval mode without gradients.
  Metrics evaluate(data::DataLoader& loader, const std::string& prefix = "val");
  // The model's outputs over the loader, concatenated along dim 0.
  Tensor predict(data::DataLoader& loader);

  io::Checkpoint make_checkpoint() const;
  void save_checkpoint(const std::string& path);  // atomic; fires on_save
  void restore(const io::Checkpoint& ckpt);
  void load_checkpoint(const std::string& path);

  void stop() { state_.should_stop = true; }
  TrainState& state() { return state_; }
  const TrainState& state() const { return state_; }
  nn::Module& model() { return *model_; }
  optim::Optimizer& optimizer() { return *optimizer_; }
  optim::LRScheduler* scheduler() { return scheduler_.get(); }
  const TrainerOptions& options() const { return options_; }
  double lr() const;
  // True while a checkpoint would be consistent (no gradients accumulated but not applied).
  bool at_step_boundary() const { return pending_ == 0; }
  // Extra keys stored in every checkpoint's meta (e.g. "config": the recipe, so `deepseek eval`
  // can rebuild the model from the checkpoint alone).
  nlohmann::json& checkpoint_meta() { return extra_meta_; }

 private:
  void optimizer_step();
  Tensor to_model_device(const Tensor& t) const;
  template <typename F> void each(F&& f) {
    for (auto& cb : callbacks_) f(*cb);
  }

  nn::ModulePtr model_;
  std::shared_ptr<optim::Optimizer> optimizer_;
  std::shared_ptr<optim::LRScheduler> scheduler_;
  TrainerOptions options_;
  LossFn loss_;
  std::vector<CallbackPtr> callbacks_;
  TrainState state_;
  int64_t pending_ = 0;  // batches accumulated since the last optimizer step
  bool progress_added_ = false;
  nlohmann::json extra_meta_ = nlohmann::json::object();
};

}  // namespace deepseek::train
