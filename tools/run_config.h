// Shared by `deepseek train`, `eval`, `predict` and `demo`: the training-config flags, reading
// --config plus `key=value` overrides into one JSON config, and the exit-code convention
// (2 for bad usage or bad config).
#pragma once

#include <optional>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "deepseek/models/config.h"

namespace deepseek::tools {

// Flags that map onto recipe keys; only the ones given on the command line are set.
struct RecipeFlags {
  std::string config_path;
  std::vector<std::string> overrides;
  nlohmann::json flags = nlohmann::json::object();

  void add_to(CLI::App& app, bool training = true) {
    app.add_option("--config", config_path, "YAML or JSON training config");
    app.add_option("overrides", overrides, "key=value overrides (dotted keys: model.hidden=[64])");
    auto str = [&](const char* name, const char* key, const char* help) {
      app.add_option_function<std::string>(name, [this, key](const std::string& v) { flags[key] = v; }, help);
    };
    auto i64 = [&](const char* name, const char* key, const char* help) {
      app.add_option_function<int64_t>(name, [this, key](const int64_t& v) { flags[key] = v; }, help);
    };
    auto f64 = [&](const char* name, const char* key, const char* help) {
      app.add_option_function<double>(name, [this, key](const double& v) { flags[key] = v; }, help);
    };
    str("--dataset", "dataset", "fashion-mnist or synthetic");
    str("--data-dir", "data_dir", "dataset folder (default: the dataset's package location)");
    i64("--threads", "threads", "compute threads (0: default)");
    i64("--test-subset", "test_subset", "evaluate on the first N test examples");
    i64("--eval-batch-size", "eval_batch_size", "evaluation batch size");
    if (!training) return;
    str("--model", "model", "model name (mlp, smallcnn, resnet18, ...)");
    i64("--epochs", "epochs", "training epochs");
    i64("--batch-size", "batch_size", "training batch size");
    f64("--lr", "lr", "learning rate");
    str("--optimizer", "optimizer", "adam, adamw or sgd");
    app.add_option_function<int64_t>("--seed", [this](const int64_t& v) { flags["seed"] = v; },
                                     "random seed (init, shuffle, dropout)");
    str("--output", "output_dir", "output folder (checkpoints, metric logs)");
    i64("--train-subset", "train_subset", "train on the first N training examples");
    i64("--max-steps", "max_steps", "stop after N optimizer steps");
    i64("--grad-accum", "grad_accum_steps", "batches per optimizer step");
    i64("--workers", "workers", "data-loader worker threads");
    str("--progress", "progress", "auto, bar, lines or none");
    app.add_flag_function("--deterministic", [this](int64_t) { flags["deterministic"] = true; },
                          "deterministic kernels only");
  }

  // defaults < --config file < flags < key=value overrides. Throws models::ConfigError.
  nlohmann::json resolve(nlohmann::json base = nlohmann::json::object()) const {
    nlohmann::json cfg = std::move(base);
    if (!config_path.empty()) {
      const nlohmann::json file = models::load_config_file(config_path);  // outlives the loop
      for (auto& [k, v] : file.items()) cfg[k] = v;
    }
    for (auto& [k, v] : flags.items()) cfg[k] = v;
    for (const auto& o : overrides) {
      auto eq = o.find('=');
      if (eq == std::string::npos || eq == 0)
        throw models::ConfigError("expected key=value, got '" + o + "'");
      models::set_dotted(cfg, o.substr(0, eq), models::parse_override_value(o.substr(eq + 1)));
    }
    return cfg;
  }
};

// Parses the command line; an exit code when the command is done already (--help: 0, bad
// usage: 2, after CLI11 printed why), nothing when it should run.
inline std::optional<int> parse_args(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return std::nullopt;
}

inline int config_error(const char* command, const std::exception& e) {
  std::fprintf(stderr, "deepseek %s: bad config: %s\n", command, e.what());
  return 2;
}

}  // namespace deepseek::tools
