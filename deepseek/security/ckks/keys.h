// CKKS keys. The secret is a uniform ternary polynomial s, kept in NTT form over every prime
// of the chain (data and special) and, when it was derived from one, with its 32-byte seed —
// the form an HSM wraps. The public key (b, a) = (-a·s + e, a) and the key-switching keys
// are RLWE samples over QP whose uniform halves come from a seed, so their serialized form
// carries only the b halves. A key-switching key has one (b_j, a_j) pair per hybrid digit j
// (data primes grouped k at a time, k = number of special primes):
//     b_j = -a_j·s + e_j + P·[q in digit j]·s'   (residue-wise),
// which switches a ciphertext from s' to s with noise divided by P (GHS / Han–Ki hybrid).
// Relinearization keys switch from s^2; Galois keys from s(X^g) for rotations / conjugation.
#pragma once

#include <map>
#include <optional>
#include <vector>

#include "deepseek/security/ckks/context.h"
#include "deepseek/security/ckks/prng.h"
#include "deepseek/security/ckks/rns_poly.h"

namespace deepseek::security::ckks {

struct SecretKey {
  RnsPoly s;                 // NTT form over all primes (data then special)
  std::optional<Seed> seed;  // the seed s was derived from, if any
  std::uint64_t context_id = 0;
};

struct PublicKey {
  RnsPoly b, a;  // NTT form over all primes
  Seed seed{};   // a = expand(seed)
  std::uint64_t context_id = 0;
};

struct KeySwitchKey {
  std::vector<RnsPoly> b, a;  // one pair per digit, NTT form over all primes
  Seed seed{};
  std::uint64_t context_id = 0;
};

struct RelinKeys {
  KeySwitchKey key;
};

struct GaloisKeys {
  std::map<std::uint64_t, KeySwitchKey> keys;  // by Galois element
  bool has(std::uint64_t g) const { return keys.count(g) != 0; }
};

class KeyGenerator {
 public:
  explicit KeyGenerator(ContextPtr ctx);                     // fresh random secret
  KeyGenerator(ContextPtr ctx, const Seed& secret_seed);     // reproducible (e.g. HSM-held seed)
  KeyGenerator(ContextPtr ctx, SecretKey sk);

  const SecretKey& secret_key() const { return sk_; }
  PublicKey create_public_key() const;
  RelinKeys create_relin_keys() const;
  // Keys for the given left-rotation steps (negative = right), plus conjugation if asked.
  GaloisKeys create_galois_keys(const std::vector<int>& steps, bool conjugate = false) const;
  // Keys for every ±2^i rotation and conjugation: any rotation is then a short composition.
  GaloisKeys create_galois_keys() const;

  // Switch key from `from` (NTT form over all primes) to this secret.
  KeySwitchKey create_switch_key(const RnsPoly& from) const;

 private:
  ContextPtr ctx_;
  SecretKey sk_;
};

// Expands a seed into a uniform polynomial, NTT form, over primes [0, limbs) of the chain
// (limb i of the key's full chain is the stream (domain, stream_base + i)).
void expand_uniform(const CkksContext& ctx, const Seed& seed, std::uint64_t domain,
                    std::uint64_t stream_base, RnsPoly& out, bool full_chain);
// Secret polynomial from a seed, NTT form over all primes.
RnsPoly secret_from_seed(const CkksContext& ctx, const Seed& seed);
// Small polynomial (coefficients given) into NTT form over the chosen primes.
void small_to_ntt(const CkksContext& ctx, const std::int64_t* coeffs, RnsPoly& out,
                  const std::vector<std::size_t>& prime_idx);
// Indices 0..level followed by the special primes (level = -1: specials only).
std::vector<std::size_t> qp_indices(const CkksContext& ctx, int level);
std::vector<std::size_t> q_indices(int level);

}  // namespace deepseek::security::ckks
