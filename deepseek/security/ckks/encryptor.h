// Encryption and decryption. Public-key encryption samples a ternary u and Gaussian e0, e1 and
// outputs (b·u + e0 + m, a·u + e1) over the data primes of the target level. Symmetric
// encryption outputs (-a·s + e + m, a) with a expanded from a fresh seed, so a fresh
// ciphertext serializes as c0 plus 32 bytes. Decryption returns the plaintext c0 + c1·s
// (+ c2·s^2), to be decoded by CkksEncoder.
#pragma once

#include <span>

#include "deepseek/security/ckks/encoder.h"
#include "deepseek/security/ckks/keys.h"
#include "deepseek/security/ckks/plaintext.h"

namespace deepseek::security::ckks {

class Encryptor {
 public:
  Encryptor(ContextPtr ctx, PublicKey pk);
  Encryptor(ContextPtr ctx, SecretKey sk);  // symmetric, seeded

  Ciphertext encrypt(const Plaintext& pt) const;
  // Encryption of zero at the given level/scale (what encrypt adds the message to).
  Ciphertext encrypt_zero(int level, double scale) const;
  bool is_symmetric() const { return sk_.has_value(); }

 private:
  ContextPtr ctx_;
  std::optional<PublicKey> pk_;
  std::optional<SecretKey> sk_;
};

class Decryptor {
 public:
  Decryptor(ContextPtr ctx, SecretKey sk);
  Plaintext decrypt(const Ciphertext& ct) const;

 private:
  ContextPtr ctx_;
  SecretKey sk_;
};

}  // namespace deepseek::security::ckks
