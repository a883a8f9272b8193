// ScratchToken: a throwaway SoftHSM2 token for tests, benchmarks and demos. It creates a
// private token store in a fresh temporary folder, points SOFTHSM2_CONF at it, initializes a
// token with known PINs and provisions the two keys the framework expects — a
// never-extractable AES-256 KEK (object "kek") and an EC P-256 signing pair for audit
// checkpoints (object "audit") — and deletes the whole store when destroyed. It must be
// created before anything else in the process loads SoftHSM2, because the module reads its
// configuration once at C_Initialize.
#pragma once

#include <memory>
#include <string>

#include "deepseek/security/hsm/session.h"

namespace deepseek::security::hsm {

class ScratchToken {
 public:
  explicit ScratchToken(std::string label = "deepseek-scratch", bool provision_keys = true);
  ~ScratchToken();
  ScratchToken(const ScratchToken&) = delete;
  ScratchToken& operator=(const ScratchToken&) = delete;

  // "pkcs11:token=<label>;object=<object>?pin-value=<pin>&module-path=<softhsm>"
  std::string uri(const std::string& object) const;
  // The same without a PIN (for checking that errors say so).
  std::string uri_without_pin(const std::string& object) const;
  const std::string& label() const { return label_; }
  const std::string& dir() const { return dir_; }
  const std::string& module_path() const { return module_; }
  const std::string& pin() const { return pin_; }
  std::shared_ptr<Session> session() const { return session_; }

  // Another token in the same store (e.g. to test a KEK that is not ours).
  void add_token(const std::string& label) const;

 private:
  std::string label_, dir_, module_, pin_, so_pin_, old_conf_;
  bool had_old_conf_ = false;
  std::shared_ptr<Session> session_;
};

}  // namespace deepseek::security::hsm
