// Trainer callbacks: hooks at train, epoch and step begin/end, plus log (every `log_every`
// optimizer steps), eval (after each evaluation) and save (after each checkpoint). Logs are
// flat name -> number maps ("loss", "lr", "val_accuracy", ...), so loggers need no schema.
#pragma once

#include <map>
#include <memory>
#include <string>

namespace deepseek::train {

class Trainer;
using Metrics = std::map<std::string, double>;

class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_begin(Trainer&) {}
  virtual void on_train_end(Trainer&, const Metrics&) {}
  virtual void on_epoch_begin(Trainer&) {}
  // logs: epoch, train_loss, epoch_time_s, samples_per_s, and val_* when there was an eval.
  virtual void on_epoch_end(Trainer&, const Metrics&) {}
  virtual void on_step_begin(Trainer&) {}
  // After every batch; logs: loss (this batch, unscaled), step, batch, lr.
  virtual void on_step_end(Trainer&, const Metrics&) {}
  // Every log_every optimizer steps; logs: loss (running mean over the epoch), lr, step,
  // epoch, samples_per_s.
  virtual void on_log(Trainer&, const Metrics&) {}
  virtual void on_eval(Trainer&, const Metrics&) {}
  virtual void on_save(Trainer&, const std::string& path) {}
};

using CallbackPtr = std::shared_ptr<Callback>;

}  // namespace deepseek::train
