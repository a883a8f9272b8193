// NTT-friendly primes for RNS-CKKS: q ≡ 1 (mod 2N), so Z_q holds a primitive 2N-th root of
// unity and X^N + 1 splits into linear factors (the negacyclic NTT exists). Primality is
// decided by Miller–Rabin with the bases that are deterministic for every 64-bit integer, so
// a generated chain is proven, not merely probable.
#pragma once

#include <cstdint>
#include <vector>

#include "deepseek/security/ckks/modarith.h"

namespace deepseek::security::ckks {

// Deterministic for n < 2^64 (bases 2..37).
bool is_prime(u64 n);

// One distinct prime q ≡ 1 mod 2N for each requested bit size: the largest unused one below
// 2^bits, so scale-sized primes sit just under the scale (drift is tracked exactly anyway).
// `avoid` lists primes already used elsewhere in the chain.
std::vector<u64> generate_ntt_primes(const std::vector<int>& bit_sizes, std::size_t n,
                                     const std::vector<u64>& avoid = {});

// A primitive 2N-th root of unity modulo q (requires q ≡ 1 mod 2N); the smallest one in
// value, so the choice is reproducible.
u64 minimal_primitive_root(std::size_t two_n, const Modulus& q);

}  // namespace deepseek::security::ckks

namespace deepseek::security::ckks {
// The unused prime q ≡ 1 mod 2N nearest to `target` within [lo, hi); 0 if none.
u64 nearest_ntt_prime(double target, std::size_t n, const std::vector<u64>& avoid, u64 lo, u64 hi);
}  // namespace deepseek::security::ckks
