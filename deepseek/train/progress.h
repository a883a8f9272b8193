// Progress reporting for the Trainer: on a terminal (isatty(stdout)) a one-line bar redrawn
// in place with ETA, throughput and the running loss; otherwise plain lines every `log_every`
// optimizer steps and one per epoch, which read well in CI logs and files.
#pragma once

#include <cstdio>
#include <string>

#include "deepseek/train/callback.h"

namespace deepseek::train {

class ProgressBar : public Callback {
 public:
  // mode: "bar" or "lines".
  explicit ProgressBar(std::string mode = "lines", std::FILE* out = stdout);
  void on_epoch_begin(Trainer& t) override;
  void on_step_end(Trainer& t, const Metrics& logs) override;
  void on_log(Trainer& t, const Metrics& logs) override;
  void on_epoch_end(Trainer& t, const Metrics& logs) override;

 private:
  void draw(Trainer& t, bool force);
  std::string mode_;
  std::FILE* out_;
  double last_draw_ = -1;
  int64_t start_batch_ = 0;
};

// "auto" -> bar when stdout is a terminal, else lines; "none" -> nullptr.
CallbackPtr make_progress(const std::string& mode, int64_t log_every);

// "1:02:03" / "02:03".
std::string format_duration(double seconds);

}  // namespace deepseek::train
