// KeyEncryptionKey: the AES-256 key-encryption key that never leaves the token. Everything
// secret the framework stores at rest (CKKS secret-key seeds, per-file data keys) is wrapped
// by it with AES key wrap with padding (CKM_AES_KEY_WRAP_PAD, RFC 5649) inside the HSM.
// Opening one refuses any key that is not a sensitive, never-extractable AES-256 key allowed
// to wrap and unwrap: a KEK that was ever extractable may exist in a copy outside the token.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "deepseek/security/hsm/secret_bytes.h"
#include "deepseek/security/hsm/session.h"

namespace deepseek::security::hsm {

// Called after every successful wrap/unwrap with ("wrap"|"unwrap", key name), so key use can
// be audited (security::audit_key_use installs one). If it throws, the operation fails and
// any unwrapped secret is wiped: key use that cannot be recorded does not happen.
using KeyUseObserver = std::function<void(std::string_view operation, const std::string& key)>;
void set_key_use_observer(KeyUseObserver observer);

class KeyEncryptionKey {
 public:
  // uri names a secret key (object= and/or id=) in a token, with its PIN.
  static KeyEncryptionKey open(std::string_view uri);
  static KeyEncryptionKey open(std::shared_ptr<Session> session, const Pkcs11Uri& uri);

  // Wraps a secret of 1..4096 bytes with CKM_AES_KEY_WRAP_PAD. The secret enters the token
  // as a short-lived session object that is destroyed right after wrapping. The wrapped
  // payload is the secret prefixed by its 4-byte big-endian length (see kek.cpp for why).
  std::vector<std::uint8_t> wrap(std::span<const std::uint8_t> secret) const;
  // Unwraps into zeroizing memory; a blob wrapped by another key or modified fails the
  // RFC 5649 integrity check and throws "[hsm] unwrap ... failed".
  SecretBytes unwrap(std::span<const std::uint8_t> wrapped) const;

  // The key's URI without PIN, for file headers and error messages.
  const std::string& name() const { return name_; }
  const std::vector<std::uint8_t>& id() const { return id_; }
  const std::string& label() const { return label_; }

 private:
  KeyEncryptionKey(std::shared_ptr<Session> s, CK_OBJECT_HANDLE h, std::string name,
                   std::vector<std::uint8_t> id, std::string label)
      : session_(std::move(s)),
        key_(h),
        name_(std::move(name)),
        id_(std::move(id)),
        label_(std::move(label)) {}
  std::shared_ptr<Session> session_;
  CK_OBJECT_HANDLE key_;
  std::string name_;
  std::vector<std::uint8_t> id_;
  std::string label_;
};

}  // namespace deepseek::security::hsm
