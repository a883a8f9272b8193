// Stock callbacks: early stopping on a monitored metric, checkpointing (last and best, through
// io's atomic checkpoints), and metric loggers to CSV (one row per epoch) and JSON Lines (one
// object per log, eval and epoch event).
#pragma once

#include <fstream>
#include <string>
#include <vector>

#include "deepseek/train/callback.h"

namespace deepseek::train {

// Stops training when `monitor` (an epoch-end key, e.g. "val_loss") has not improved by more
// than min_delta for `patience` epochs.
class EarlyStopping : public Callback {
 public:
  EarlyStopping(std::string monitor = "val_loss", int64_t patience = 3, std::string mode = "min",
                double min_delta = 0.0);
  void on_epoch_end(Trainer& t, const Metrics& logs) override;
  double best() const { return best_; }
  int64_t wait() const { return wait_; }
  bool stopped() const { return stopped_; }

 private:
  std::string monitor_, mode_;
  int64_t patience_;
  double min_delta_, best_;
  int64_t wait_ = 0;
  bool stopped_ = false;
};

struct ModelCheckpointOptions {
  int64_t every_n_epochs = 1;  // write <dir>/last.ckpt after every n-th epoch (0: never)
  int64_t every_n_steps = 0;   // and after every n-th optimizer step (0: never)
  std::string monitor;         // non-empty: also keep <dir>/best.ckpt by this epoch metric
  std::string mode = "min";
};

class ModelCheckpoint : public Callback {
 public:
  explicit ModelCheckpoint(std::string dir, ModelCheckpointOptions options = {});
  void on_step_end(Trainer& t, const Metrics& logs) override;
  void on_epoch_end(Trainer& t, const Metrics& logs) override;
  std::string last_path() const { return dir_ + "/last.ckpt"; }
  std::string best_path() const { return dir_ + "/best.ckpt"; }
  const std::string& last_saved() const { return last_saved_; }

 private:
  std::string dir_;
  ModelCheckpointOptions options_;
  double best_;
  int64_t last_step_saved_ = -1;
  std::string last_saved_;
};

// One row per epoch; the file is rewritten each epoch so columns are the union of all keys.
class CSVLogger : public Callback {
 public:
  explicit CSVLogger(std::string path);
  void on_epoch_end(Trainer& t, const Metrics& logs) override;

 private:
  std::string path_;
  std::vector<Metrics> rows_;
};

// One JSON object per line: {"event": "log"|"eval"|"epoch"|"train_end", ...metrics}.
class JSONLLogger : public Callback {
 public:
  explicit JSONLLogger(std::string path, bool append = false);
  void on_log(Trainer& t, const Metrics& logs) override;
  void on_eval(Trainer& t, const Metrics& logs) override;
  void on_epoch_end(Trainer& t, const Metrics& logs) override;
  void on_train_end(Trainer& t, const Metrics& logs) override;

 private:
  void write(const char* event, const Metrics& logs);
  std::string path_;
  std::ofstream out_;
};

}  // namespace deepseek::train
