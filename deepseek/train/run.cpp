#include "deepseek/train/run.h"

#include <chrono>
#include <filesystem>

#include "deepseek/core/parallel.h"
#include "deepseek/io/checkpoint.h"
#include "deepseek/models/config.h"
#include "deepseek/train/callbacks.h"
#include "deepseek/train/trainer.h"

namespace deepseek::train {

namespace {
double since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Stops training once the wall-clock budget is spent (checked after each batch).
struct TimeBudget : Callback {
  explicit TimeBudget(double s) : budget(s) {}
  void on_train_begin(Trainer&) override { start = std::chrono::steady_clock::now(); }
  void on_step_end(Trainer& t, const Metrics&) override {
    if (t.at_step_boundary() && since(start) > budget) {
      hit = true;
      t.stop();
    }
  }
  double budget;
  bool hit = false;
  std::chrono::steady_clock::time_point start;
};
}  // namespace

nlohmann::json run_recipe(const Recipe& r, const RunOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  if (r.threads > 0) set_num_threads(static_cast<int>(r.threads));
  if (r.deterministic) set_deterministic(true);
  manual_seed(r.seed);

  DataSplits d = load_data(r);
  auto train_loader = make_train_loader(r, d);
  auto test_loader = make_eval_loader(r, d.test);
  auto model = make_model(r, d.num_classes);
  auto opt = make_optimizer(r, *model);

  TrainerOptions to;
  to.epochs = r.epochs;
  to.max_steps = r.max_steps;
  to.grad_accum_steps = r.grad_accum_steps;
  to.max_grad_norm = r.max_grad_norm;
  to.log_every = r.log_every;
  to.progress = r.progress;
  Trainer trainer(model, opt, to);
  const int64_t steps_per_epoch =
      (train_loader->num_batches() + r.grad_accum_steps - 1) / r.grad_accum_steps;
  int64_t total_steps = steps_per_epoch * r.epochs;
  if (r.max_steps >= 0) total_steps = std::min(total_steps, r.max_steps);
  if (auto s = make_scheduler(r, *opt, total_steps)) trainer.set_scheduler(s);
  trainer.checkpoint_meta()["config"] = r.to_json();

  std::filesystem::create_directories(r.output_dir);
  const std::string csv = r.output_dir + "/metrics.csv", jsonl = r.output_dir + "/metrics.jsonl";
  ModelCheckpointOptions mco;
  mco.every_n_steps = r.checkpoint_every_steps;
  auto ckpt = std::make_shared<ModelCheckpoint>(r.output_dir, mco);
  trainer.add_callback(ckpt);
  trainer.add_callback(std::make_shared<CSVLogger>(csv));
  trainer.add_callback(std::make_shared<JSONLLogger>(jsonl, !options.resume.empty()));
  std::shared_ptr<TimeBudget> budget;
  if (options.time_budget_s > 0) {
    budget = std::make_shared<TimeBudget>(options.time_budget_s);
    trainer.add_callback(budget);
  }
  for (auto& cb : options.callbacks) trainer.add_callback(cb);
  if (!options.resume.empty()) trainer.load_checkpoint(options.resume);

  const auto t_train = std::chrono::steady_clock::now();
  const int64_t samples_before = trainer.state().samples_seen;
  Metrics last = trainer.fit(*train_loader);
  const double train_time = since(t_train);
  const int64_t trained = trainer.state().samples_seen - samples_before;

  const auto t_eval = std::chrono::steady_clock::now();
  Metrics test = trainer.evaluate(*test_loader, "test");
  const double eval_time = since(t_eval);
  if (trainer.at_step_boundary()) trainer.save_checkpoint(ckpt->last_path());

  nlohmann::json out;
  out["model"] = r.model_name();
  out["dataset"] = r.dataset;
  out["parameters"] = model->num_parameters();
  out["epochs"] = trainer.state().epoch;
  out["steps"] = trainer.state().step;
  out["train_loss"] = last.count("train_loss") ? last["train_loss"] : trainer.state().running_loss();
  out["test_loss"] = test["test_loss"];
  if (test.count("test_accuracy")) out["test_accuracy"] = test["test_accuracy"];
  out["train_samples"] = trained;
  out["epochs_trained"] = d.train->size() ? double(trainer.state().samples_seen) / d.train->size() : 0.0;
  out["stopped_by_time_budget"] = budget && budget->hit;
  out["test_samples"] = d.test->size();
  out["train_time_s"] = train_time;
  out["eval_time_s"] = eval_time;
  out["train_samples_per_s"] = train_time > 0 ? trained / train_time : 0.0;
  out["eval_samples_per_s"] = eval_time > 0 ? d.test->size() / eval_time : 0.0;
  out["checkpoint"] = ckpt->last_path();
  out["metrics_csv"] = csv;
  out["metrics_jsonl"] = jsonl;
  out["output_dir"] = r.output_dir;
  out["seed"] = r.seed;
  out["threads"] = num_threads();
  out["total_time_s"] = since(t0);
  return out;
}

std::pair<nn::ModulePtr, Recipe> load_trained_model(const std::string& path) {
  io::Checkpoint c = io::load_checkpoint(path);
  if (!c.meta.is_object() || !c.meta.contains("config"))
    throw models::ConfigError("checkpoint '" + path +
                              "' holds no training config (was it written by deepseek train?)");
  Recipe r = Recipe::from_json(c.meta["config"]);
  auto model = make_model(r, 10);
  model->load_state_dict(c.model);
  model->eval();
  return {model, r};
}

}  // namespace deepseek::train
