// Word-size modular arithmetic for the RNS limbs of CKKS. Every prime in a chain is below
// 2^61, so sums of a few residues never overflow a 64-bit word and Harvey's lazy butterflies
// can keep values in [0, 4q). Products are reduced with Barrett (generic operand pairs) or
// Shoup (one operand fixed and known in advance: twiddles, key-switch constants), which
// avoids the slow 128-bit division of the compiler runtime.
#pragma once

#include <cstddef>
#include <cstdint>

#include "deepseek/core/error.h"

namespace deepseek::security::ckks {

using u64 = std::uint64_t;
using u128 = unsigned __int128;

// A prime modulus with its Barrett constant floor(2^128 / q) split into two words.
struct Modulus {
  u64 value = 0;
  u64 ratio_lo = 0, ratio_hi = 0;
  int bits = 0;
  // Single-word Barrett constant floor(2^(2·bits+1) / q) < 2^63 for reduce_product.
  u64 mu = 0;

  Modulus() = default;
  explicit Modulus(u64 q) : value(q) {
    DS_CHECK(q >= 3 && q < (u64(1) << 61), "[ckks] modulus must be in [3, 2^61), got ", q);
    // floor(2^128 / q) = floor((2^128 - 1) / q) because q is not a power of two.
    u128 all_ones = ~u128(0);
    u128 r = all_ones / q;
    ratio_lo = u64(r);
    ratio_hi = u64(r >> 64);
    bits = 64 - __builtin_clzll(q);
    mu = u64((u128(1) << (2 * bits + 1)) / q);
  }
};

inline u64 add_mod(u64 a, u64 b, u64 q) {
  u64 s = a + b;
  return s >= q ? s - q : s;
}
inline u64 sub_mod(u64 a, u64 b, u64 q) { return a >= b ? a - b : a + q - b; }
inline u64 neg_mod(u64 a, u64 q) { return a ? q - a : 0; }

// Barrett reduction of a 128-bit value (as SEAL's barrett_reduce_128): two words of the
// quotient estimate suffice because the error is below 2q.
inline u64 barrett_reduce_128(u128 z, const Modulus& m) {
  u64 z0 = u64(z), z1 = u64(z >> 64);
  u64 carry = u64((u128(z0) * m.ratio_lo) >> 64);
  u128 t = u128(z0) * m.ratio_hi;
  u128 s = u128(u64(t)) + carry;
  u64 tmp1 = u64(s);
  u64 tmp3 = u64(t >> 64) + u64(s >> 64);
  u128 t2 = u128(z1) * m.ratio_lo;
  u128 s2 = u128(tmp1) + u64(t2);
  carry = u64(t2 >> 64) + u64(s2 >> 64);
  u64 qhat = z1 * m.ratio_hi + tmp3 + carry;
  u64 r = z0 - qhat * m.value;
  return r >= m.value ? r - m.value : r;
}

// Reduction of z < 2^(2·bits+1) (a product of two residues, or the sum of two such
// products): the quotient estimate floor(floor(z / 2^(bits-1)) · mu / 2^(bits+2)) is at most
// 2 below floor(z/q), so z - qhat·q < 3q fits a word. Two multiplies instead of Barrett-128's five.
inline u64 reduce_product(u128 z, const Modulus& m) {
  const u64 zs = u64(z >> (m.bits - 1));
  const u64 qhat = u64((u128(zs) * m.mu) >> (m.bits + 2));
  u64 r = u64(z) - qhat * m.value;
  r -= (r >= 2 * m.value) ? 2 * m.value : 0;
  return r >= m.value ? r - m.value : r;
}

// Barrett reduction of sums z < 2^zbits (inner products, base conversions) with two multiplies
// instead of Barrett-128's five, valid while zbits <= bits + 63: with s = max(zbits - 64, 1) <=
// bits - 1, both z / 2^s and mu = floor(2^(s+64) / q) fit a word and the quotient estimate
// hi(floor(z / 2^s) · mu) is at most 2 below floor(z/q), so r < 3q. The fixed 64-bit second shift
// is the high word of the product.
struct SumReducer {
  u64 q = 0, mu = 0;
  int s = 1;

  static bool fits(const Modulus& m, int zbits) { return zbits <= m.bits + 63; }
  SumReducer(const Modulus& m, int zbits) : q(m.value), mu(0), s(zbits - 64 > 1 ? zbits - 64 : 1) {
    mu = u64((u128(1) << (s + 64)) / q);
  }

  u64 reduce(u128 z) const {
    const u64 z0 = u64(z), z1 = u64(z >> 64);
    const u64 zs = (z0 >> s) | (z1 << (64 - s));
    const u64 qhat = u64((u128(zs) * mu) >> 64);
    u64 r = z0 - qhat * q;
    r -= (r >= 2 * q) ? 2 * q : 0;
    return r >= q ? r - q : r;
  }
};

// Barrett-128 behind SumReducer's interface, for sums too wide for it.
struct WideReducer {
  const Modulus& m;
  u64 reduce(u128 z) const { return barrett_reduce_128(z, m); }
};

// Calls f with the cheapest reducer valid for sums below 2^zbits (one loop, two instances).
template <typename F>
void with_reducer(const Modulus& m, int zbits, F&& f) {
  if (SumReducer::fits(m, zbits)) {
    f(SumReducer(m, zbits));
  } else {
    f(WideReducer{m});
  }
}

// Bits of a bound on the sum of `terms` products a·b with a < 2^abits, b < 2^bbits.
inline int sum_bits(int abits, int bbits, std::size_t terms) {
  int t = 0;
  while ((std::size_t(1) << t) < terms) ++t;
  return abits + bbits + t;
}

// Reduction of a single word (a < 2^64) with the high Barrett word only.
inline u64 barrett_reduce_64(u64 a, const Modulus& m) {
  u64 qhat = u64((u128(a) * m.ratio_hi) >> 64);
  u64 r = a - qhat * m.value;
  return r >= m.value ? r - m.value : r;
}

inline u64 mul_mod(u64 a, u64 b, const Modulus& m) { return barrett_reduce_128(u128(a) * b, m); }

// Shoup: for a fixed w < q, w' = floor(w 2^64 / q) lets a*w mod q cost two multiplies.
inline u64 shoup_precompute(u64 w, u64 q) { return u64((u128(w) << 64) / q); }
// Result in [0, 2q) for any a < 2^64.
inline u64 mul_shoup_lazy(u64 a, u64 w, u64 wp, u64 q) {
  u64 hi = u64((u128(a) * wp) >> 64);
  return a * w - hi * q;
}
inline u64 mul_shoup(u64 a, u64 w, u64 wp, u64 q) {
  u64 r = mul_shoup_lazy(a, w, wp, q);
  return r >= q ? r - q : r;
}

inline u64 pow_mod(u64 base, u64 e, const Modulus& m) {
  u64 r = 1 % m.value, b = base % m.value;
  while (e) {
    if (e & 1) r = mul_mod(r, b, m);
    b = mul_mod(b, b, m);
    e >>= 1;
  }
  return r;
}

// Inverse modulo a prime by Fermat; a must be non-zero mod q.
inline u64 inv_mod(u64 a, const Modulus& m) {
  a %= m.value;
  DS_CHECK(a != 0, "[ckks] value has no inverse modulo ", m.value);
  return pow_mod(a, m.value - 2, m);
}

// Residue of a signed 64-bit integer.
inline u64 reduce_signed(std::int64_t v, const Modulus& m) {
  if (v >= 0) return barrett_reduce_64(u64(v), m);
  u64 r = barrett_reduce_64(u64(-(v + 1)) + 1, m);  // avoids overflow at INT64_MIN
  return neg_mod(r, m.value);
}

}  // namespace deepseek::security::ckks
