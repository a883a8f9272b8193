// Plaintexts and ciphertexts: RNS polynomials in NTT form at a level l (limbs q_0..q_l) with
// the exact scale of the encoded values (a plain double: products and quotients of scales are
// computed in floating point, whose 2^-53 relative error is far below CKKS noise). A fresh
// symmetric ciphertext remembers the seed of its uniform part c1, so it serializes in half the
// space; any operation that changes c1 drops the seed.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "deepseek/security/ckks/prng.h"
#include "deepseek/security/ckks/rns_poly.h"

namespace deepseek::security::ckks {

struct Plaintext {
  RnsPoly poly;  // level + 1 limbs, NTT form
  int level = -1;
  double scale = 0;
  std::uint64_t context_id = 0;
};

struct Ciphertext {
  std::vector<RnsPoly> parts;  // c0, c1 (and c2 after an unrelinearized multiply)
  int level = -1;
  double scale = 0;
  std::uint64_t context_id = 0;
  std::optional<Seed> c1_seed;  // set while c1 is still the seeded uniform polynomial

  std::size_t size() const { return parts.size(); }
  bool empty() const { return parts.empty(); }
};

}  // namespace deepseek::security::ckks
