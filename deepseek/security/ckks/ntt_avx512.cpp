// AVX-512 IFMA butterflies for primes below 2^50 (values stay below 2^52 in the lazy range, the
// width of the IFMA multiplier). Compiled with per-function target attributes so the rest of
// the library runs on any x86-64; NttTables only calls in here when cpu_has_avx512_ifma().
// Layers whose butterfly span is below 8 words run the scalar butterfly (same lazy ranges).
#include "deepseek/security/ckks/ntt.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define DS_IFMA __attribute__((target("avx512f,avx512ifma")))
#endif

namespace deepseek::security::ckks {

#if defined(__x86_64__) && defined(__GNUC__)
namespace {

DS_IFMA inline __m512i mul_shoup52_lazy(__m512i a, __m512i w, __m512i wp, __m512i q) {
  const __m512i zero = _mm512_setzero_si512();
  const __m512i mask52 = _mm512_set1_epi64((1ll << 52) - 1);
  __m512i hi = _mm512_madd52hi_epu64(zero, a, wp);
  __m512i t1 = _mm512_madd52lo_epu64(zero, a, w);
  __m512i t2 = _mm512_madd52lo_epu64(zero, hi, q);
  return _mm512_and_si512(_mm512_sub_epi64(t1, t2), mask52);
}

DS_IFMA inline __m512i reduce_once(__m512i v, __m512i m) { return _mm512_min_epu64(v, _mm512_sub_epi64(v, m)); }

}  // namespace

DS_IFMA void ntt_forward_ifma(const NttTables& tb, u64* a) {
  const u64 q = tb.modulus().value, two_q = 2 * q;
  const std::size_t n = tb.n();
  const __m512i vq = _mm512_set1_epi64(q), v2q = _mm512_set1_epi64(two_q);
  std::size_t t = n;
  for (std::size_t m = 1; m < n; m <<= 1) {
    t >>= 1;
    for (std::size_t i = 0; i < m; ++i) {
      u64* x = a + 2 * i * t;
      u64* y = x + t;
      if (t >= 8) {
        const __m512i w = _mm512_set1_epi64(tb.psi_rev_[m + i]);
        const __m512i wp = _mm512_set1_epi64(tb.psi_rev_shoup52_[m + i]);
        for (std::size_t j = 0; j < t; j += 8) {
          __m512i X = reduce_once(_mm512_loadu_si512(x + j), v2q);
          __m512i T = mul_shoup52_lazy(_mm512_loadu_si512(y + j), w, wp, vq);
          _mm512_storeu_si512(x + j, _mm512_add_epi64(X, T));
          _mm512_storeu_si512(y + j, _mm512_add_epi64(_mm512_sub_epi64(X, T), v2q));
        }
      } else {
        const u64 w = tb.psi_rev_[m + i], wp = tb.psi_rev_shoup_[m + i];
        for (std::size_t j = 0; j < t; ++j) {
          u64 X = x[j];
          X -= (X >= two_q) ? two_q : 0;
          u64 T = mul_shoup_lazy(y[j], w, wp, q);
          x[j] = X + T;
          y[j] = X - T + two_q;
        }
      }
    }
  }
  for (std::size_t i = 0; i < n; i += 8) {
    __m512i v = _mm512_loadu_si512(a + i);
    v = reduce_once(reduce_once(v, v2q), vq);
    _mm512_storeu_si512(a + i, v);
  }
}

DS_IFMA void ntt_inverse_ifma(const NttTables& tb, u64* a) {
  const u64 q = tb.modulus().value, two_q = 2 * q;
  const std::size_t n = tb.n();
  const __m512i vq = _mm512_set1_epi64(q), v2q = _mm512_set1_epi64(two_q);
  std::size_t t = 1;
  for (std::size_t m = n; m > 2; m >>= 1) {
    const std::size_t h = m >> 1;
    std::size_t j1 = 0;
    for (std::size_t i = 0; i < h; ++i) {
      u64* x = a + j1;
      u64* y = x + t;
      if (t >= 8) {
        const __m512i w = _mm512_set1_epi64(tb.ipsi_rev_[h + i]);
        const __m512i wp = _mm512_set1_epi64(tb.ipsi_rev_shoup52_[h + i]);
        for (std::size_t j = 0; j < t; j += 8) {
          __m512i X = _mm512_loadu_si512(x + j), Y = _mm512_loadu_si512(y + j);
          _mm512_storeu_si512(x + j, reduce_once(_mm512_add_epi64(X, Y), v2q));
          __m512i V = _mm512_add_epi64(_mm512_sub_epi64(X, Y), v2q);
          _mm512_storeu_si512(y + j, mul_shoup52_lazy(V, w, wp, vq));
        }
      } else {
        const u64 w = tb.ipsi_rev_[h + i], wp = tb.ipsi_rev_shoup_[h + i];
        for (std::size_t j = 0; j < t; ++j) {
          u64 X = x[j], Y = y[j];
          u64 U = X + Y;
          U -= (U >= two_q) ? two_q : 0;
          x[j] = U;
          y[j] = mul_shoup_lazy(X - Y + two_q, w, wp, q);
        }
      }
      j1 += 2 * t;
    }
    t <<= 1;
  }
  const __m512i ni = _mm512_set1_epi64(tb.n_inv_), nip = _mm512_set1_epi64(tb.n_inv_shoup52_);
  const __m512i lw = _mm512_set1_epi64(tb.last_w_), lwp = _mm512_set1_epi64(tb.last_w_shoup52_);
  u64* x = a;
  u64* y = a + t;
  for (std::size_t j = 0; j < t; j += 8) {
    __m512i X = _mm512_loadu_si512(x + j), Y = _mm512_loadu_si512(y + j);
    __m512i U = mul_shoup52_lazy(_mm512_add_epi64(X, Y), ni, nip, vq);
    __m512i V = mul_shoup52_lazy(_mm512_add_epi64(_mm512_sub_epi64(X, Y), v2q), lw, lwp, vq);
    _mm512_storeu_si512(x + j, reduce_once(U, vq));
    _mm512_storeu_si512(y + j, reduce_once(V, vq));
  }
}

#else
void ntt_forward_ifma(const NttTables& t, u64* a) { t.forward_scalar(a); }
void ntt_inverse_ifma(const NttTables& t, u64* a) { t.inverse_scalar(a); }
#endif

}  // namespace deepseek::security::ckks
