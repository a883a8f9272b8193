// Security for the framework's entry points in one object: given a security config (ABAC
// policy file, audit log and its HSM signing key, optionally an HSM-held KEK, the subject),
// ProtectedRun builds the Guard and the audit log, and hands out the checkpoint hook that
// io/ calls on every checkpoint save and load (io::CheckpointFileHook): the hook asks the
// Guard (model.save / model.load, and data.decrypt for encrypted files), envelope-encrypts
// checkpoints with the KEK (AES-256-GCM data key wrapped in the token) and decrypts them on
// load, and with a KEK refuses plain checkpoints unless told otherwise. Commands (`deepseek
// train`, `eval`, `predict`) guard their own start and stop through require() / record().
//
// Security config (JSON object, e.g. the `security:` key of a run config):
//   policy:            ABAC policy file (YAML/JSON)                         required
//   audit_log:         audit log path                                       required
//   audit_key:         pkcs11: URI of the audit signing key   default $DEEPSEEK_AUDIT_KEY
//   kek:               pkcs11: URI of the KEK; set = checkpoints are envelope-encrypted
//   subject:           {id: alice, role: researcher, ...}  default $DEEPSEEK_SUBJECT[_ATTRS] / OS
//   user allow_plaintext:   false; true = with a KEK, still load unencrypted checkpoints
//   checkpoint_every:  audit records per signed checkpoint (default 1000)
// Relative paths are taken relative to `base_dir` (the config file's folder).
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "deepseek/io/checkpoint_hook.h"
#include "deepseek/security/guard.h"
#include "deepseek/security/hsm/kek.h"

namespace deepseek::security {

struct SecurityConfig {
  std::string policy;
  std::string audit_log;
  std::string audit_key;
  std::string kek;
  abac::Attributes subject;
  bool allow_plaintext = false;
  std::uint64_t checkpoint_every = 1000;

  // Throws deepseek::Error "[security config] ..." naming the bad key.
  static SecurityConfig from_json(const nlohmann::json& j, const std::string& base_dir = "");
  // A YAML or JSON file holding the config (at the top level or under `security:`).
  static SecurityConfig load_file(const std::string& path);
};

class ProtectedRun {
 public:
  explicit ProtectedRun(const SecurityConfig& config);
  ~ProtectedRun();  // stops auditing key use, closes (and signs) the audit log
  ProtectedRun(const ProtectedRun&) = delete;
  ProtectedRun& operator=(const ProtectedRun&) = delete;

  // Decides, audits, throws "[guard] access denied: ..." on deny.
  void require(std::string_view action, const std::string& resource);
  // Appends a non-decision record (e.g. train.stop with its outcome).
  void record(std::string_view action, const std::string& resource,
              std::map<std::string, std::string> attrs = {});

  // The hook to install with io::set_checkpoint_file_hook (the caller installs it: io/ is
  // below this layer and is not linked by it).
  std::shared_ptr<io::CheckpointFileHook> checkpoint_hook() const { return hook_; }

  const std::shared_ptr<Guard>& guard() const { return guard_; }
  const std::shared_ptr<audit::AuditLog>& log() const { return log_; }
  const abac::Attributes& subject() const { return subject_; }
  std::string subject_id() const;
  bool encrypts() const { return kek_ != nullptr; }

 private:
  abac::Attributes subject_;
  std::shared_ptr<audit::AuditLog> log_;
  std::shared_ptr<Guard> guard_;
  std::shared_ptr<const hsm::KeyEncryptionKey> kek_;
  std::shared_ptr<io::CheckpointFileHook> hook_;
};

}  // namespace deepseek::security
