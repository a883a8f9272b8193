// Who vouches for the audit log: a CheckpointSigner signs each checkpoint (tree size + root),
// and a HeadStore remembers the newest checkpoint outside the log file, so cutting whole
// records *and* checkpoints off the end of the file is still noticed. In production both are
// the HSM (Pkcs11Notary: an EC P-256 key whose private half never leaves the token, signing
// with CKM_ECDSA, and a token data object as the head). Signatures are ECDSA P-256 over
// SHA-256, stored as raw r||s (64 bytes), verifiable by anyone holding the public key.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace deepseek::security::hsm {
class Session;
}

namespace deepseek::security::audit {

class CheckpointSigner {
 public:
  virtual ~CheckpointSigner() = default;
  virtual std::vector<std::uint8_t> sign(std::span<const std::uint8_t> message) = 0;
  // DER SubjectPublicKeyInfo of the verification key.
  virtual std::vector<std::uint8_t> public_key() const = 0;
  virtual std::string name() const = 0;
};

class HeadStore {
 public:
  virtual ~HeadStore() = default;
  virtual std::optional<std::string> load(const std::string& log_id) = 0;
  virtual void store(const std::string& log_id, const std::string& head) = 0;
};

// The HSM as both: key pair named by a pkcs11: URI (the private and public objects share the
// label/id), head kept in a private token data object "deepseek-audit-head:<log id>".
class Pkcs11Notary : public CheckpointSigner, public HeadStore {
 public:
  explicit Pkcs11Notary(std::string_view key_uri);
  ~Pkcs11Notary() override;
  std::vector<std::uint8_t> sign(std::span<const std::uint8_t> message) override;
  std::vector<std::uint8_t> public_key() const override { return public_key_; }
  std::string name() const override { return name_; }
  std::optional<std::string> load(const std::string& log_id) override;
  void store(const std::string& log_id, const std::string& head) override;

 private:
  std::shared_ptr<hsm::Session> session_;
  unsigned long private_key_;
  std::vector<std::uint8_t> public_key_;
  std::string name_;
};

// ---------------------------------------------------------------------------------------
// INSECURE — FOR TESTS ONLY. A software EC key in process memory and an in-memory head: it
// proves nothing to anyone who can read this process. It exists so unit tests of the Merkle
// and file logic do not need a token; nothing in the library or the CLI selects it.
class InsecureTestNotary : public CheckpointSigner, public HeadStore {
 public:
  InsecureTestNotary();
  ~InsecureTestNotary() override;
  std::vector<std::uint8_t> sign(std::span<const std::uint8_t> message) override;
  std::vector<std::uint8_t> public_key() const override { return public_key_; }
  std::string name() const override { return "INSECURE-TEST-ONLY software key"; }
  std::optional<std::string> load(const std::string& log_id) override;
  void store(const std::string& log_id, const std::string& head) override;

 private:
  void* key_;  // EVP_PKEY*
  std::vector<std::uint8_t> public_key_;
  std::mutex mutex_;
  std::map<std::string, std::string> heads_;
};

// Verifies a raw r||s ECDSA P-256 signature over SHA-256(message).
bool verify_signature(std::span<const std::uint8_t> public_key_der,
                      std::span<const std::uint8_t> message, std::span<const std::uint8_t> sig);
// Hex SHA-256 of the public key DER (first 16 bytes), written next to each signature.
std::string key_fingerprint(std::span<const std::uint8_t> public_key_der);
// PEM <-> DER for the public key (`deepseek audit pubkey`, offline verification).
std::string public_key_pem(std::span<const std::uint8_t> public_key_der);
std::vector<std::uint8_t> public_key_from_pem(const std::string& pem);

}  // namespace deepseek::security::audit
