#include "deepseek/train/trainer.h"

#include "deepseek/autograd/grad_mode.h"
#include "deepseek/core/error.h"
#include "deepseek/optim/clip_grad.h"
#include "deepseek/train/progress.h"

namespace deepseek::train {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Evaluation metrics accumulated over batches.
struct EvalSums {
  double loss = 0;
  int64_t correct = 0, count = 0;
  bool has_accuracy = true;
};

}  // namespace

Trainer::Trainer(nn::ModulePtr model, std::shared_ptr<optim::Optimizer> optimizer,
                 TrainerOptions options, LossFn loss)
    : model_(std::move(model)), optimizer_(std::move(optimizer)), options_(std::move(options)),
      loss_(std::move(loss)) {
  DS_CHECK(model_ != nullptr, "[Trainer] model is null");
  DS_CHECK(optimizer_ != nullptr, "[Trainer] optimizer is null");
  DS_CHECK(options_.epochs >= 0, "[Trainer] epochs must be >= 0, got ", options_.epochs);
  DS_CHECK(options_.grad_accum_steps >= 1, "[Trainer] grad_accum_steps must be >= 1, got ",
           options_.grad_accum_steps);
  DS_CHECK(options_.log_every >= 1, "[Trainer] log_every must be >= 1, got ", options_.log_every);
  DS_CHECK(options_.progress == "auto" || options_.progress == "bar" ||
               options_.progress == "lines" || options_.progress == "none",
           "[Trainer] progress must be auto, bar, lines or none, got '", options_.progress, "'");
  if (!loss_)
    loss_ = [](const Tensor& out, const Tensor& target) { return cross_entropy(out, target); };
}

Trainer& Trainer::set_scheduler(std::shared_ptr<optim::LRScheduler> scheduler) {
  scheduler_ = std::move(scheduler);
  return *this;
}

Trainer& Trainer::add_callback(CallbackPtr callback) {
  DS_CHECK(callback != nullptr, "[Trainer] callback is null");
  callbacks_.push_back(std::move(callback));
  return *this;
}

double Trainer::lr() const {
  const auto& g = optimizer_->param_groups();
  return g.empty() ? 0.0 : g[0].lr();
}

Tensor Trainer::to_model_device(const Tensor& t) const {
  auto params = model_->parameters();
  if (params.empty() || !t.defined() || t.device() == params[0].device()) return t;
  return to_device(t, params[0].device());
}

void Trainer::optimizer_step() {
  if (options_.max_grad_norm > 0) optim::clip_grad_norm_(model_->parameters(), options_.max_grad_norm);
  optimizer_->step();
  optimizer_->zero_grad();
  if (scheduler_ && options_.scheduler_per_step) scheduler_->step();
  pending_ = 0;
  ++state_.step;
}

Metrics Trainer::fit(data::DataLoader& train, data::DataLoader* val) {
  if (!progress_added_) {
    progress_added_ = true;
    if (auto p = make_progress(options_.progress, options_.log_every)) callbacks_.insert(callbacks_.begin(), p);
  }
  state_.should_stop = false;
  Metrics last;
  each([&](Callback& c) { c.on_train_begin(*this); });
  const auto reached_max = [&] { return options_.max_steps >= 0 && state_.step >= options_.max_steps; };
  while (state_.epoch < options_.epochs && !state_.should_stop && !reached_max()) {
    int64_t total = train.num_batches();
    if (options_.limit_train_batches >= 0) total = std::min(total, options_.limit_train_batches);
    state_.epoch_batches = total;
    if (state_.batch == 0) {
      state_.epoch_samples = 0;
      state_.epoch_loss_sum = 0;
    }
    state_.epoch_start = std::chrono::steady_clock::now();
    const int64_t samples_at_start = state_.epoch_samples;
    model_->train();
    each([&](Callback& c) { c.on_epoch_begin(*this); });
    if (state_.batch < total) {
      for (data::Batch& b : train.epoch(state_.epoch, state_.batch)) {
        each([&](Callback& c) { c.on_step_begin(*this); });
        Tensor out = model_->call({to_model_device(b.input)})[0];
        Tensor loss = loss_(out, to_model_device(b.target));
        DS_CHECK(loss.numel() == 1, "[Trainer] the loss must be a scalar, got shape ",
                 to_string(loss.sizes()));
        const int64_t accum = options_.grad_accum_steps;
        (accum > 1 ? div(loss, Scalar(static_cast<double>(accum))) : loss).backward();
        ++pending_;
        const double lv = loss.item<double>();
        state_.last_loss = lv;
        state_.epoch_loss_sum += lv * b.size();
        state_.epoch_samples += b.size();
        state_.samples_seen += b.size();
        ++state_.batch;
        const bool last_batch = state_.batch >= total;
        bool stepped = false;
        if (pending_ >= accum || last_batch) {
          optimizer_step();
          stepped = true;
        }
        Metrics step_logs{{"loss", lv},
                          {"step", double(state_.step)},
                          {"batch", double(state_.batch)},
                          {"lr", lr()}};
        each([&](Callback& c) { c.on_step_end(*this, step_logs); });
        if (stepped && state_.step % options_.log_every == 0) {
          const double dt = seconds_since(state_.epoch_start);
          Metrics logs{{"loss", state_.running_loss()},
                       {"lr", lr()},
                       {"step", double(state_.step)},
                       {"epoch", double(state_.epoch)},
                       {"samples_per_s", dt > 0 ? (state_.epoch_samples - samples_at_start) / dt : 0}};
          each([&](Callback& c) { c.on_log(*this, logs); });
        }
        if (last_batch || state_.should_stop || (stepped && reached_max())) break;
      }
    }
    const bool epoch_done = state_.batch >= total;
    if (!epoch_done) break;  // stopped mid-epoch (max_steps or a callback): keep the position
    if (scheduler_ && !options_.scheduler_per_step) scheduler_->step();
    const double epoch_time = seconds_since(state_.epoch_start);
    Metrics logs{{"epoch", double(state_.epoch + 1)},
                 {"step", double(state_.step)},
                 {"train_loss", state_.running_loss()},
                 {"lr", lr()},
                 {"epoch_time_s", epoch_time},
                 {"samples_per_s",
                  epoch_time > 0 ? (state_.epoch_samples - samples_at_start) / epoch_time : 0}};
    if (val) {
      Metrics v = evaluate(*val, "val");
      logs.insert(v.begin(), v.end());
    }
    ++state_.epoch;
    state_.batch = 0;
    each([&](Callback& c) { c.on_epoch_end(*this, logs); });
    last = logs;
  }
  if (last.empty()) last = {{"step", double(state_.step)}, {"train_loss", state_.running_loss()}};
  each([&](Callback& c) { c.on_train_end(*this, last); });
  return last;
}

Metrics Trainer::evaluate(data::DataLoader& loader, const std::string& prefix) {
  const bool was_training = model_->is_training();
  model_->eval();
  autograd::NoGradGuard no_grad;
  EvalSums s;
  int64_t n = 0;
  for (data::Batch& b : loader.epoch(0)) {
    if (options_.limit_eval_batches >= 0 && n >= options_.limit_eval_batches) break;
    ++n;
    Tensor out = model_->call({to_model_device(b.input)})[0];
    Tensor target = to_model_device(b.target);
    s.loss += loss_(out, target).item<double>() * b.size();
    s.count += b.size();
    if (s.has_accuracy && out.dim() == 2 && target.dim() == 1 && !is_floating(target.dtype())) {
      s.correct += sum(eq(argmax(out, 1), target)).item<int64_t>();
    } else {
      s.has_accuracy = false;
    }
  }
  model_->train(was_training);
  Metrics m{{prefix + "_loss", s.count ? s.loss / s.count : 0.0}};
  if (s.has_accuracy && s.count) m[prefix + "_accuracy"] = double(s.correct) / double(s.count);
  each([&](Callback& c) { c.on_eval(*this, m); });
  return m;
}

Tensor Trainer::predict(data::DataLoader& loader) {
  const bool was_training = model_->is_training();
  model_->eval();
  autograd::NoGradGuard no_grad;
  std::vector<Tensor> outs;
  for (data::Batch& b : loader.epoch(0)) outs.push_back(model_->call({to_model_device(b.input)})[0]);
  model_->train(was_training);
  DS_CHECK(!outs.empty(), "[Trainer.predict] the loader yielded no batches");
  return outs.size() == 1 ? outs[0] : cat(outs, 0);
}

io::Checkpoint Trainer::make_checkpoint() const {
  DS_CHECK(pending_ == 0, "[Trainer] cannot checkpoint with ", pending_,
           " accumulated batches not yet applied (checkpoint at an optimizer-step boundary)");
  io::Checkpoint c;
  c.model = model_->state_dict();
  auto os = optimizer_->state_dict();
  c.optimizer = os.tensors;
  c.optimizer_meta = os.meta;
  if (scheduler_) c.scheduler = scheduler_->state_dict();
  c.step = state_.step;
  c.epoch = state_.epoch;
  c.rng["cpu"] = default_generator(kCPU).state();
  c.meta = {{"batch", state_.batch},
            {"samples_seen", state_.samples_seen},
            {"epoch_samples", state_.epoch_samples},
            {"epoch_loss_sum", state_.epoch_loss_sum}};
  for (auto& [k, v] : extra_meta_.items()) c.meta[k] = v;
  return c;
}

void Trainer::save_checkpoint(const std::string& path) {
  io::save_checkpoint(path, make_checkpoint());
  each([&](Callback& c) { c.on_save(*this, path); });
}

void Trainer::restore(const io::Checkpoint& c) {
  model_->load_state_dict(c.model);
  optimizer_->load_state_dict(optim::OptimizerState{c.optimizer, c.optimizer_meta});
  if (scheduler_ && !c.scheduler.is_null()) scheduler_->load_state_dict(c.scheduler);
  state_ = TrainState{};
  state_.step = c.step;
  state_.epoch = c.epoch;
  auto it = c.rng.find("cpu");
  if (it != c.rng.end()) default_generator(kCPU).set_state(it->second);
  if (c.meta.is_object()) {
    state_.batch = c.meta.value("batch", int64_t{0});
    state_.samples_seen = c.meta.value("samples_seen", int64_t{0});
    state_.epoch_samples = c.meta.value("epoch_samples", int64_t{0});
    state_.epoch_loss_sum = c.meta.value("epoch_loss_sum", 0.0);
  }
  pending_ = 0;
}

void Trainer::load_checkpoint(const std::string& path) { restore(io::load_checkpoint(path)); }

}  // namespace deepseek::train
