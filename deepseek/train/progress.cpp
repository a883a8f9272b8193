#include "deepseek/train/progress.h"

#include <unistd.h>

#include <chrono>
#include <cmath>

#include "deepseek/train/trainer.h"

namespace deepseek::train {

namespace {
double since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) s = 0;
  long total = std::lround(s);
  char buf[32];
  if (total >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", total / 3600, (total / 60) % 60, total % 60);
  else
    std::snprintf(buf, sizeof buf, "%02ld:%02ld", total / 60, total % 60);
  return buf;
}

ProgressBar::ProgressBar(std::string mode, std::FILE* out) : mode_(std::move(mode)), out_(out) {}

void ProgressBar::on_epoch_begin(Trainer& t) {
  last_draw_ = -1;
  start_batch_ = t.state().batch;
}

void ProgressBar::draw(Trainer& t, bool force) {
  const auto& s = t.state();
  const double el = since(s.epoch_start);
  if (!force && last_draw_ >= 0 && el - last_draw_ < 0.1) return;
  last_draw_ = el;
  const int64_t done = s.batch - start_batch_, left = s.epoch_batches - s.batch;
  const double eta = done > 0 ? el / done * left : 0;
  const double ips = el > 0 ? s.epoch_samples / el : 0;  // approximate after a resume
  const int width = 24;
  const int filled = s.epoch_batches ? int(width * s.batch / s.epoch_batches) : 0;
  std::string bar(filled, '#');
  bar += std::string(width - filled, '.');
  std::fprintf(out_, "\r\033[Kepoch %lld/%lld [%s] %lld/%lld %s<%s %.0f samples/s loss %.4f",
               (long long)s.epoch + 1, (long long)t.options().epochs, bar.c_str(),
               (long long)s.batch, (long long)s.epoch_batches, format_duration(el).c_str(),
               format_duration(eta).c_str(), ips, s.running_loss());
  std::fflush(out_);
}

void ProgressBar::on_step_end(Trainer& t, const Metrics&) {
  if (mode_ == "bar") draw(t, t.state().batch >= t.state().epoch_batches);
}

void ProgressBar::on_log(Trainer& t, const Metrics& logs) {
  if (mode_ != "lines") return;
  const auto& s = t.state();
  const double el = since(s.epoch_start);
  const int64_t done = s.batch - start_batch_, left = s.epoch_batches - s.batch;
  const double eta = done > 0 ? el / done * left : 0;
  std::fprintf(out_, "epoch %lld/%lld step %lld batch %lld/%lld loss %.4f lr %.3g %.0f samples/s eta %s\n",
               (long long)s.epoch + 1, (long long)t.options().epochs, (long long)s.step,
               (long long)s.batch, (long long)s.epoch_batches, logs.at("loss"), logs.at("lr"),
               logs.at("samples_per_s"), format_duration(eta).c_str());
  std::fflush(out_);
}

void ProgressBar::on_epoch_end(Trainer& t, const Metrics& logs) {
  if (mode_ == "bar") std::fprintf(out_, "\n");
  std::string extra;
  char buf[64];
  for (const char* k : {"val_loss", "val_accuracy"})
    if (auto it = logs.find(k); it != logs.end()) {
      std::snprintf(buf, sizeof buf, " %s %.4f", k, it->second);
      extra += buf;
    }
  std::fprintf(out_, "epoch %lld/%lld done in %.1fs: train_loss %.4f%s (%.0f samples/s)\n",
               (long long)logs.at("epoch"), (long long)t.options().epochs, logs.at("epoch_time_s"),
               logs.at("train_loss"), extra.c_str(), logs.at("samples_per_s"));
  std::fflush(out_);
}

CallbackPtr make_progress(const std::string& mode, int64_t) {
  if (mode == "none") return nullptr;
  if (mode == "auto") return std::make_shared<ProgressBar>(isatty(STDOUT_FILENO) ? "bar" : "lines");
  return std::make_shared<ProgressBar>(mode);
}

}  // namespace deepseek::train
