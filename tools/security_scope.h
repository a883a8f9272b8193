// Shared by `deepseek train`, `eval` and `predict`: the --security flag (or the `security:`
// key of the run config, a mapping or the path of a security file) turns on the security
// pillar for the command — ABAC decisions at its entry points, every decision and checkpoint
// save/load in the HSM-signed audit log, and checkpoints envelope-encrypted under an
// HSM-held KEK when the config names one. The scope installs the checkpoint hook that io/
// exposes (io/ cannot include security/) and removes it, closing and signing the log, when
// the command ends. See deepseek/security/protected_run.h for the config keys.
#pragma once

#include <CLI/CLI.hpp>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "deepseek/io/checkpoint_hook.h"
#include "deepseek/models/config.h"
#include "deepseek/security/protected_run.h"

namespace deepseek::tools {

class SecurityScope {
 public:
  void add_to(CLI::App& app) {
    app.add_option("--security", path_,
                   "security config (YAML/JSON: policy, audit_log, audit_key, kek, subject): "
                   "ABAC checks, audit records, encrypted checkpoints");
  }

  // Takes the `security` key out of the resolved run config (so the recipe never sees it) and,
  // with it or --security, opens the protected run and installs the checkpoint hook.
  // config_path is the --config file, whose folder relative paths in the key refer to.
  void open(nlohmann::json& config, const std::string& config_path) {
    nlohmann::json key;
    if (config.is_object() && config.contains("security")) {
      key = config["security"];
      config.erase("security");
    }
    if (!path_.empty()) {
      run_ = std::make_unique<security::ProtectedRun>(security::SecurityConfig::load_file(path_));
    } else if (key.is_string()) {
      std::filesystem::path p = key.get<std::string>();
      if (p.is_relative() && !config_path.empty())
        p = std::filesystem::path(config_path).parent_path() / p;
      run_ =
          std::make_unique<security::ProtectedRun>(security::SecurityConfig::load_file(p.string()));
    } else if (key.is_object()) {
      const std::string base =
          config_path.empty() ? "" : std::filesystem::path(config_path).parent_path().string();
      run_ =
          std::make_unique<security::ProtectedRun>(security::SecurityConfig::from_json(key, base));
    } else if (!key.is_null()) {
      throw models::ConfigError(
          "'security' must be a mapping or the path of a security config file");
    }
    if (run_) io::set_checkpoint_file_hook(run_->checkpoint_hook());
  }

  ~SecurityScope() {
    if (run_) io::set_checkpoint_file_hook(nullptr);
  }

  explicit operator bool() const { return run_ != nullptr; }
  security::ProtectedRun* operator->() const { return run_.get(); }

 private:
  std::string path_;
  std::unique_ptr<security::ProtectedRun> run_;
};

}  // namespace deepseek::tools
