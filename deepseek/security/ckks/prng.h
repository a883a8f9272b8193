// Deterministic randomness for CKKS. A 32-byte seed expands through ChaCha20 (RFC 8439 block
// function) into independent streams, one per (domain, index) nonce: the public "a" parts of
// keys and symmetric ciphertexts are regenerated from their seed, which is what makes the
// serialized forms compact, and every limb draws from its own stream so limbs can be sampled
// in parallel with a result that does not depend on the thread count. Fresh seeds come from
// the OS (std::random_device → getrandom). Samplers are not constant time.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "deepseek/security/ckks/modarith.h"

namespace deepseek::security::ckks {

using Seed = std::array<std::uint8_t, 32>;

Seed random_seed();

class Prng {
 public:
  // `domain` separates uses of one seed (key parts, noise, ...); `index` the limb or digit.
  Prng(const Seed& seed, std::uint64_t domain, std::uint64_t index = 0);

  std::uint64_t next_u64();
  std::uint32_t next_u32();
  double next_double();  // uniform in [0, 1), 53 bits
  u64 uniform_mod(u64 q);  // rejection sampling, unbiased
  // Ternary in {-1, 0, 1}, each with probability 1/3.
  int ternary();
  // Rounded Gaussian, sigma = 3.2, clipped at 6 sigma (HE standard's error distribution).
  std::int64_t gaussian();

 private:
  void refill();
  std::array<std::uint32_t, 16> key_state_{};
  std::array<std::uint32_t, 16> block_{};
  int pos_ = 16;
  double spare_ = 0;
  bool has_spare_ = false;
};

// Domains of the seeded streams (kept stable: serialized seeds depend on them).
enum PrngDomain : std::uint64_t {
  kDomainSecret = 1,
  kDomainPublicA = 2,
  kDomainKeySwitchA = 3,
  kDomainSymmetricA = 4,
  kDomainNoise = 5,
};

}  // namespace deepseek::security::ckks
