#include "deepseek/train/callbacks.h"

#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "deepseek/core/error.h"
#include "deepseek/train/trainer.h"

namespace deepseek::train {

namespace {
bool improved(const std::string& mode, double value, double best, double min_delta) {
  return mode == "max" ? value > best + min_delta : value < best - min_delta;
}
double worst(const std::string& mode) {
  return mode == "max" ? -std::numeric_limits<double>::infinity()
                       : std::numeric_limits<double>::infinity();
}
}  // namespace

EarlyStopping::EarlyStopping(std::string monitor, int64_t patience, std::string mode, double min_delta)
    : monitor_(std::move(monitor)), mode_(std::move(mode)), patience_(patience),
      min_delta_(min_delta), best_(worst(mode_)) {
  DS_CHECK(mode_ == "min" || mode_ == "max", "[EarlyStopping] mode must be min or max, got '", mode_, "'");
  DS_CHECK(patience_ >= 0, "[EarlyStopping] patience must be >= 0");
}

void EarlyStopping::on_epoch_end(Trainer& t, const Metrics& logs) {
  auto it = logs.find(monitor_);
  DS_CHECK(it != logs.end(), "[EarlyStopping] metric '", monitor_,
           "' is not in the epoch logs (evaluate on a validation loader to get val_* metrics)");
  if (improved(mode_, it->second, best_, min_delta_)) {
    best_ = it->second;
    wait_ = 0;
  } else if (++wait_ > patience_) {
    stopped_ = true;
    t.stop();
  }
}

ModelCheckpoint::ModelCheckpoint(std::string dir, ModelCheckpointOptions options)
    : dir_(std::move(dir)), options_(std::move(options)), best_(worst(options_.mode)) {
  DS_CHECK(options_.mode == "min" || options_.mode == "max",
           "[ModelCheckpoint] mode must be min or max, got '", options_.mode, "'");
  std::filesystem::create_directories(dir_);
}

void ModelCheckpoint::on_step_end(Trainer& t, const Metrics&) {
  const auto& s = t.state();
  if (options_.every_n_steps > 0 && t.at_step_boundary() && s.step > 0 &&
      s.step % options_.every_n_steps == 0 && s.step != last_step_saved_) {
    last_step_saved_ = s.step;
    t.save_checkpoint(last_path());
    last_saved_ = last_path();
  }
}

void ModelCheckpoint::on_epoch_end(Trainer& t, const Metrics& logs) {
  const auto& s = t.state();
  if (options_.every_n_epochs > 0 && s.epoch % options_.every_n_epochs == 0) {
    t.save_checkpoint(last_path());
    last_saved_ = last_path();
    last_step_saved_ = s.step;
  }
  if (!options_.monitor.empty()) {
    auto it = logs.find(options_.monitor);
    DS_CHECK(it != logs.end(), "[ModelCheckpoint] metric '", options_.monitor,
             "' is not in the epoch logs");
    if (improved(options_.mode, it->second, best_, 0.0)) {
      best_ = it->second;
      t.save_checkpoint(best_path());
    }
  }
}

CSVLogger::CSVLogger(std::string path) : path_(std::move(path)) {}

void CSVLogger::on_epoch_end(Trainer&, const Metrics& logs) {
  rows_.push_back(logs);
  std::set<std::string> cols;
  for (auto& r : rows_)
    for (auto& [k, v] : r) cols.insert(k);
  // "epoch" first, then the rest alphabetically.
  std::vector<std::string> order{"epoch"};
  for (auto& c : cols)
    if (c != "epoch") order.push_back(c);
  const std::string tmp = path_ + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    DS_CHECK(f.good(), "[CSVLogger] cannot write '", tmp, "'");
    for (size_t i = 0; i < order.size(); ++i) f << (i ? "," : "") << order[i];
    f << "\n";
    f.precision(10);
    for (auto& r : rows_) {
      for (size_t i = 0; i < order.size(); ++i) {
        if (i) f << ",";
        if (auto it = r.find(order[i]); it != r.end()) f << it->second;
      }
      f << "\n";
    }
  }
  std::filesystem::rename(tmp, path_);
}

JSONLLogger::JSONLLogger(std::string path, bool append)
    : path_(std::move(path)), out_(path_, append ? std::ios::app : std::ios::trunc) {
  DS_CHECK(out_.good(), "[JSONLLogger] cannot open '", path_, "' for writing");
}

void JSONLLogger::write(const char* event, const Metrics& logs) {
  nlohmann::json j;
  j["event"] = event;
  for (auto& [k, v] : logs) {
    if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9e15 &&
        (k == "epoch" || k == "step" || k == "batch"))
      j[k] = static_cast<int64_t>(v);
    else
      j[k] = v;
  }
  out_ << j.dump() << "\n";
  out_.flush();
}

void JSONLLogger::on_log(Trainer&, const Metrics& logs) { write("log", logs); }
void JSONLLogger::on_eval(Trainer&, const Metrics& logs) { write("eval", logs); }
void JSONLLogger::on_epoch_end(Trainer&, const Metrics& logs) { write("epoch", logs); }
void JSONLLogger::on_train_end(Trainer&, const Metrics& logs) { write("train_end", logs); }

}  // namespace deepseek::train
