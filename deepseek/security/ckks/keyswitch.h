// Hybrid key switching (GHS with Han–Ki digits): a polynomial d over Q_l is cut into digits of
// k data primes, each digit is extended exactly-enough (fast basis conversion) to Q_l·P
// ("ModUp"), multiplied with the key's (b_j, a_j) and summed, and the sum is divided by P with
// rounding ("ModDown"). With k special primes there are ceil((l+1)/k) digits, so relinearizing
// and rotating cost O((l+1)^2/k) NTTs instead of SEAL's O((l+1)^2) with one special prime.
// The decomposition is separated from the inner product so that many rotations of one
// ciphertext can share it (hoisting): in NTT form a Galois automorphism is a permutation of
// every limb, and it commutes with the basis extension.
#pragma once

#include <vector>

#include "deepseek/security/ckks/context.h"
#include "deepseek/security/ckks/keys.h"

namespace deepseek::security::ckks {

// ModUp of every digit of d (NTT form, level+1 limbs). Each entry is over Q_l·P (level+1+k
// limbs, data primes first), NTT form.
struct Decomposed {
  std::vector<RnsPoly> digits;
  int level = -1;
};

Decomposed decompose(const CkksContext& ctx, const RnsPoly& d, int level);

// (u0, u1) over Q_l with u0 + u1·s ≈ σ_g(d)·s' where the key switches s' -> s; `perm` is the
// NTT permutation of σ_g or null for the identity. u0/u1 are overwritten.
void key_switch(const CkksContext& ctx, const Decomposed& dec, const KeySwitchKey& key,
                const std::vector<std::uint32_t>* perm, RnsPoly& u0, RnsPoly& u1, const RnsPoly* add0 = nullptr,
                const RnsPoly* add1 = nullptr, const std::vector<std::uint32_t>* add0_perm = nullptr);

// Divides x (over Q_l·P, NTT form) by P with rounding, leaving level+1 limbs.
void mod_down(const CkksContext& ctx, RnsPoly& x, int level);

// Fast basis conversion: src limbs (coefficient form, primes src_idx) to dst limbs (primes
// dst_idx): y = Σ_i [x_i · (Q/q_i)^{-1}]_{q_i} · (Q/q_i) mod t, i.e. x + u·Q with 0 <= u < |src|.
void base_convert(const CkksContext& ctx, const u64* const* src, const std::vector<std::size_t>& src_idx,
                  u64* const* dst, const std::vector<std::size_t>& dst_idx);

}  // namespace deepseek::security::ckks
