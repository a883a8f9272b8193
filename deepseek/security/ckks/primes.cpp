#include "deepseek/security/ckks/primes.h"

#include <algorithm>

namespace deepseek::security::ckks {

namespace {
u64 mulmod_slow(u64 a, u64 b, u64 n) { return u64((u128(a) * b) % n); }
u64 powmod_slow(u64 b, u64 e, u64 n) {
  u64 r = 1 % n;
  b %= n;
  while (e) {
    if (e & 1) r = mulmod_slow(r, b, n);
    b = mulmod_slow(b, b, n);
    e >>= 1;
  }
  return r;
}
}  // namespace

bool is_prime(u64 n) {
  if (n < 2) return false;
  static const u64 small[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};
  for (u64 p : small) {
    if (n % p == 0) return n == p;
  }
  u64 d = n - 1;
  int s = 0;
  while ((d & 1) == 0) {
    d >>= 1;
    ++s;
  }
  for (u64 a : small) {
    u64 x = powmod_slow(a, d, n);
    if (x == 1 || x == n - 1) continue;
    bool composite = true;
    for (int r = 1; r < s; ++r) {
      x = mulmod_slow(x, x, n);
      if (x == n - 1) {
        composite = false;
        break;
      }
    }
    if (composite) return false;
  }
  return true;
}

std::vector<u64> generate_ntt_primes(const std::vector<int>& bit_sizes, std::size_t n,
                                     const std::vector<u64>& avoid) {
  DS_CHECK(n >= 2 && (n & (n - 1)) == 0, "[ckks] ring degree must be a power of two, got ", n);
  const u64 step = 2 * u64(n);
  std::vector<u64> used = avoid, out;
  // Per bit size, the next candidates below and above 2^bits that were not yet examined.
  for (int bits : bit_sizes) {
    DS_CHECK(bits >= 20 && bits <= 60, "[ckks] prime bit sizes must be in [20, 60], got ", bits);
    DS_CHECK(step < (u64(1) << (bits - 2)), "[ckks] a ", bits, "-bit prime is too small for N = ", n);
    // Search down from 2^bits: the prime has exactly `bits` bits, so the chain's log QP never
    // exceeds the sum of the requested sizes (what the security table is checked against).
    u64 cand = (u64(1) << bits) - step + 1;
    const u64 lo = u64(1) << (bits - 1);
    u64 found = 0;
    for (; cand > lo; cand -= step) {
      if (is_prime(cand) && std::find(used.begin(), used.end(), cand) == used.end()) {
        found = cand;
        break;
      }
    }
    DS_CHECK(found != 0, "[ckks] ran out of ", bits, "-bit NTT primes for N = ", n);
    used.push_back(found);
    out.push_back(found);
  }
  return out;
}

u64 minimal_primitive_root(std::size_t two_n, const Modulus& q) {
  DS_CHECK((q.value - 1) % two_n == 0, "[ckks] ", q.value, " is not 1 mod ", two_n);
  // g^((q-1)/2N) is a 2N-th root; it is primitive iff its N-th power is -1.
  u64 cofactor = (q.value - 1) / two_n;
  u64 best = 0;
  for (u64 g = 2; g < q.value && best == 0; ++g) {
    u64 r = pow_mod(g, cofactor, q);
    if (pow_mod(r, two_n / 2, q) == q.value - 1) best = r;
  }
  DS_CHECK(best != 0, "[ckks] no primitive root modulo ", q.value);
  // Among all primitive roots (the odd powers of one), take the smallest, for reproducibility.
  u64 sq = mul_mod(best, best, q), cur = best, minimal = best;
  for (std::size_t i = 0; i < two_n / 2; ++i) {
    if (cur < minimal) minimal = cur;
    cur = mul_mod(cur, sq, q);
  }
  return minimal;
}

}  // namespace deepseek::security::ckks

namespace deepseek::security::ckks {
u64 nearest_ntt_prime(double target, std::size_t n, const std::vector<u64>& avoid, u64 lo, u64 hi) {
  const u64 step = 2 * u64(n);
  u64 t = u64(target);
  if (t < lo) t = lo;
  if (t >= hi) t = hi - 1;
  // Candidates are 1 mod 2N: start at the one just below t and walk both ways.
  u64 down = t - ((t - 1) % step), up = down + step;
  auto ok = [&](u64 c) { return is_prime(c) && std::find(avoid.begin(), avoid.end(), c) == avoid.end(); };
  for (int i = 0; i < 1'000'000; ++i) {
    bool down_ok = down > lo, up_ok = up < hi;
    if (!down_ok && !up_ok) break;
    // Try the closer side first.
    bool first_down = down_ok && (!up_ok || (t - down) <= (up - t));
    if (first_down) {
      if (ok(down)) return down;
      down -= step;
    } else {
      if (ok(up)) return up;
      up += step;
    }
  }
  return 0;
}
}  // namespace deepseek::security::ckks
