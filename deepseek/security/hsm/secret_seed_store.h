// SecretSeedStore: how a secret that must survive restarts (the CKKS secret key, stored as
// the seed it is expanded from) is kept at rest — wrapped by the HSM's KEK with AES key wrap
// with padding, never in the clear. The seed is unwrapped only into a SecretBytes that wipes
// itself when the caller's scope ends; with_seed() makes that scope explicit:
//
//   hsm::SecretSeedStore store("pkcs11:token=ds;object=kek?pin-source=/run/pin");
//   auto wrapped = store.generate(32, "ckks-secret-key");   // random, never leaves as plaintext
//   store.save("model.seed", wrapped);
//   store.with_seed(hsm::SecretSeedStore::load("model.seed"), [&](std::span<const uint8_t> seed) {
//     sk = ckks::SecretKey::from_seed(seed);                  // seed wiped right after
//   });
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "deepseek/security/hsm/kek.h"
#include "deepseek/security/hsm/secret_bytes.h"

namespace deepseek::security::hsm {

struct WrappedSeed {
  std::string purpose;               // free text, e.g. "ckks-secret-key"; checked on unseal
  std::string kek;                   // URI of the KEK (no PIN), informative
  std::vector<std::uint8_t> kek_id;  // CKA_ID of the KEK
  std::vector<std::uint8_t> blob;    // CKM_AES_KEY_WRAP_PAD output

  std::string to_json() const;
  static WrappedSeed from_json(std::string_view text);  // validates, throws Error
};

class SecretSeedStore {
 public:
  explicit SecretSeedStore(std::string_view kek_uri);
  explicit SecretSeedStore(KeyEncryptionKey kek) : kek_(std::move(kek)) {}

  WrappedSeed seal(std::span<const std::uint8_t> seed, std::string purpose) const;
  // Draws `bytes` random bytes (OpenSSL RAND_bytes), seals them and wipes the plaintext.
  WrappedSeed generate(std::size_t bytes, std::string purpose) const;
  // expected_purpose, when non-empty, must equal the seed's purpose (a guard against feeding
  // a data key where a CKKS seed belongs).
  SecretBytes unseal(const WrappedSeed& wrapped, std::string_view expected_purpose = {}) const;

  template <class F>
  decltype(auto) with_seed(const WrappedSeed& wrapped, F&& f,
                           std::string_view expected_purpose = {}) const {
    SecretBytes seed = unseal(wrapped, expected_purpose);  // wiped on return and on throw
    return std::forward<F>(f)(seed.span());
  }

  static void save(const std::string& path, const WrappedSeed& wrapped);  // atomic, mode 0600
  static WrappedSeed load(const std::string& path);

  const KeyEncryptionKey& kek() const { return kek_; }

 private:
  KeyEncryptionKey kek_;
};

}  // namespace deepseek::security::hsm
