// AVX2 + FMA butterflies in double precision, for primes below 2^52 on CPUs without IFMA.
// AVX2 has no 64x64-bit multiply, but residues and twiddles below 2^53 are exact doubles, and
// FMA gives exact products as a pair of doubles: with qh = floor(y · (w/q)),
// y·w - qh·q = (hi(y·w) - hi(qh·q)) + (lo(y·w) - lo(qh·q)) exactly, and it lies in (-q, 2q).
// Primes below 2^50 keep Harvey's lazy ranges ([0, 4q) < 2^52 between layers, one conditional
// +q after the product, as Shoup's [0, 2q)); primes in [2^50, 2^52) reduce every value to
// [0, q) so that sums stay below 2^53 (a few more operations, still well ahead of scalar).
// Between layers the limb holds doubles in place of its integers; the first layer converts
// in, the last layer reduces to [0, q) and converts back, so callers see the usual words.
// Compiled with per-function target attributes; NttTables only calls in when the CPU has it.
#include "deepseek/security/ckks/ntt.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define DS_AVX2 __attribute__((target("avx2,fma")))
#endif

namespace deepseek::security::ckks {

#if defined(__x86_64__) && defined(__GNUC__)
namespace {

// Integers below 2^52 <-> doubles: 2^52 + x has x as its mantissa bits.
constexpr long long kMagicBits = 0x4330000000000000ll;
constexpr double kMagic = 4503599627370496.0;  // 2^52

DS_AVX2 inline __m256d load_int(const u64* p) {
  const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(x, _mm256_set1_epi64x(kMagicBits))),
                       _mm256_set1_pd(kMagic));
}

DS_AVX2 inline void store_int(u64* p, __m256d v) {
  const __m256i x = _mm256_castpd_si256(_mm256_add_pd(v, _mm256_set1_pd(kMagic)));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p),
                      _mm256_xor_si256(x, _mm256_set1_epi64x(kMagicBits)));
}

// v - m where v >= m, else v (blend on the sign of v - m).
DS_AVX2 inline __m256d reduce_once(__m256d v, __m256d m) {
  const __m256d d = _mm256_sub_pd(v, m);
  return _mm256_blendv_pd(d, v, d);
}

// v + m where v < 0, else v.
DS_AVX2 inline __m256d add_if_negative(__m256d v, __m256d m) {
  return _mm256_blendv_pd(v, _mm256_add_pd(v, m), v);
}

// y·w - floor(y·(w/q))·q, exact and in (-q, 2q), for integral y, w with y < 2^53, y·w < 2^104
// and y·w/q < 2^52 (so the floor is off by at most one); wq = w/q.
DS_AVX2 inline __m256d mul_rem(__m256d y, __m256d w, __m256d wq, __m256d q) {
  const __m256d qh = _mm256_floor_pd(_mm256_mul_pd(y, wq));
  const __m256d ph = _mm256_mul_pd(y, w);
  const __m256d pl = _mm256_fmsub_pd(y, w, ph);
  const __m256d hh = _mm256_mul_pd(qh, q);
  const __m256d hl = _mm256_fmsub_pd(qh, q, hh);
  return _mm256_add_pd(_mm256_sub_pd(ph, hh), _mm256_sub_pd(pl, hl));
}

// q < 2^50: Harvey's lazy butterflies, values in [0, 4q) (forward) or [0, 2q) (inverse).
struct LazyKernel {
  __m256d q, q2;

  // y·w mod q in [0, 2q) for y < 4q.
  DS_AVX2 __m256d mul(__m256d y, __m256d w, __m256d wq) const {
    return add_if_negative(mul_rem(y, w, wq, q), q);
  }
  // Cooley–Tukey: x' = x + yw, y' = x - yw + 2q (x first brought below 2q).
  DS_AVX2 void fwd(__m256d& x, __m256d& y, __m256d w, __m256d wq) const {
    const __m256d X = reduce_once(x, q2);
    const __m256d T = mul(y, w, wq);
    x = _mm256_add_pd(X, T);
    y = _mm256_add_pd(_mm256_sub_pd(X, T), q2);
  }
  // Gentleman–Sande: x' = x + y, y' = (x - y + 2q) w.
  DS_AVX2 void inv(__m256d& x, __m256d& y, __m256d w, __m256d wq) const {
    const __m256d U = reduce_once(_mm256_add_pd(x, y), q2);
    y = mul(_mm256_add_pd(_mm256_sub_pd(x, y), q2), w, wq);
    x = U;
  }
  // The last inverse layer: x' = (x + y) w0, y' = (x - y) w1, both in [0, q).
  DS_AVX2 void last(__m256d& x, __m256d& y, __m256d w0, __m256d w0q, __m256d w1,
                    __m256d w1q) const {
    const __m256d U = mul(_mm256_add_pd(x, y), w0, w0q);
    y = reduce_once(mul(_mm256_add_pd(_mm256_sub_pd(x, y), q2), w1, w1q), q);
    x = reduce_once(U, q);
  }
  DS_AVX2 __m256d canonical(__m256d v) const { return reduce_once(reduce_once(v, q2), q); }
};

// 2^50 <= q < 2^52: every value in [0, q).
struct StrictKernel {
  __m256d q, q2;

  DS_AVX2 __m256d mul(__m256d y, __m256d w, __m256d wq) const {
    return reduce_once(add_if_negative(mul_rem(y, w, wq, q), q), q);
  }
  DS_AVX2 void fwd(__m256d& x, __m256d& y, __m256d w, __m256d wq) const {
    const __m256d T = mul(y, w, wq);
    const __m256d X = x;
    x = reduce_once(_mm256_add_pd(X, T), q);
    y = add_if_negative(_mm256_sub_pd(X, T), q);
  }
  DS_AVX2 void inv(__m256d& x, __m256d& y, __m256d w, __m256d wq) const {
    const __m256d U = reduce_once(_mm256_add_pd(x, y), q);
    y = mul(add_if_negative(_mm256_sub_pd(x, y), q), w, wq);
    x = U;
  }
  DS_AVX2 void last(__m256d& x, __m256d& y, __m256d w0, __m256d w0q, __m256d w1,
                    __m256d w1q) const {
    const __m256d U = mul(reduce_once(_mm256_add_pd(x, y), q), w0, w0q);
    y = mul(add_if_negative(_mm256_sub_pd(x, y), q), w1, w1q);
    x = U;
  }
  DS_AVX2 __m256d canonical(__m256d v) const { return v; }
};

// Twiddles for the span-2 layer, groups i and i+1: [w_i, w_i, w_i+1, w_i+1].
DS_AVX2 inline __m256d pairs(const double* w) {
  return _mm256_permute4x64_pd(_mm256_castpd128_pd256(_mm_loadu_pd(w)), 0x50);
}
// Twiddles for the span-1 layer in unpack order: [w0, w2, w1, w3].
DS_AVX2 inline __m256d evens_odds(const double* w) {
  return _mm256_permute4x64_pd(_mm256_loadu_pd(w), 0xD8);
}

// One butterfly of the kernel's forward or inverse transform.
template <bool Forward, typename K>
DS_AVX2 inline void bfly(const K& k, __m256d& x, __m256d& y, __m256d w, __m256d wq) {
  if constexpr (Forward) {
    k.fwd(x, y, w, wq);
  } else {
    k.inv(x, y, w, wq);
  }
}

// A layer of `groups` butterfly groups of span t >= 4; group i uses twiddle W[i].
template <bool Forward, typename K>
DS_AVX2 inline void wide_layer(double* d, std::size_t groups, std::size_t t, const double* W,
                               const double* WQ, const K& k) {
  for (std::size_t i = 0; i < groups; ++i) {
    const __m256d w = _mm256_set1_pd(W[i]), wq = _mm256_set1_pd(WQ[i]);
    double* x = d + 2 * i * t;
    double* y = x + t;
    for (std::size_t j = 0; j < t; j += 4) {
      __m256d X = _mm256_loadu_pd(x + j), Y = _mm256_loadu_pd(y + j);
      bfly<Forward>(k, X, Y, w, wq);
      _mm256_storeu_pd(x + j, X);
      _mm256_storeu_pd(y + j, Y);
    }
  }
}

// The span-2 layer: two groups per vector pair, halves swapped across 128-bit lanes.
template <bool Forward, typename K>
DS_AVX2 inline void span2_layer(double* d, std::size_t groups, const double* W, const double* WQ,
                                const K& k) {
  for (std::size_t i = 0; i < groups; i += 2) {
    double* p = d + 4 * i;
    const __m256d A = _mm256_loadu_pd(p), B = _mm256_loadu_pd(p + 4);
    __m256d X = _mm256_permute2f128_pd(A, B, 0x20), Y = _mm256_permute2f128_pd(A, B, 0x31);
    bfly<Forward>(k, X, Y, pairs(W + i), pairs(WQ + i));
    _mm256_storeu_pd(p, _mm256_permute2f128_pd(X, Y, 0x20));
    _mm256_storeu_pd(p + 4, _mm256_permute2f128_pd(X, Y, 0x31));
  }
}

template <typename K>
DS_AVX2 void forward(const NttTables& tb, u64* a, const K& k) {
  const std::size_t n = tb.n();
  double* d = reinterpret_cast<double*>(a);
  const double* W = tb.psi_rev_d_.data();
  const double* WQ = tb.psi_rev_wq_.data();
  // First layer (one group, span n/2), converting the integers in.
  {
    const std::size_t t = n / 2;
    const __m256d w = _mm256_set1_pd(W[1]), wq = _mm256_set1_pd(WQ[1]);
    for (std::size_t j = 0; j < t; j += 4) {
      __m256d x = load_int(a + j), y = load_int(a + t + j);
      k.fwd(x, y, w, wq);
      _mm256_storeu_pd(d + j, x);
      _mm256_storeu_pd(d + t + j, y);
    }
  }
  for (std::size_t m = 2, t = n / 4; t >= 4; m <<= 1, t >>= 1)
    wide_layer<true>(d, m, t, W + m, WQ + m, k);
  span2_layer<true>(d, n / 4, W + n / 4, WQ + n / 4, k);
  // Span 1, then the final reduction to [0, q) and conversion back to integers.
  for (std::size_t m = n / 2, i = 0; i < m; i += 4) {
    double* p = d + 2 * i;
    const __m256d A = _mm256_loadu_pd(p), B = _mm256_loadu_pd(p + 4);
    __m256d X = _mm256_unpacklo_pd(A, B), Y = _mm256_unpackhi_pd(A, B);
    k.fwd(X, Y, evens_odds(W + m + i), evens_odds(WQ + m + i));
    X = k.canonical(X);
    Y = k.canonical(Y);
    store_int(a + 2 * i, _mm256_unpacklo_pd(X, Y));
    store_int(a + 2 * i + 4, _mm256_unpackhi_pd(X, Y));
  }
}

template <typename K>
DS_AVX2 void inverse(const NttTables& tb, u64* a, const K& k) {
  const std::size_t n = tb.n();
  double* d = reinterpret_cast<double*>(a);
  const double* W = tb.ipsi_rev_d_.data();
  const double* WQ = tb.ipsi_rev_wq_.data();
  // Span 1, converting the integers in.
  for (std::size_t h = n / 2, i = 0; i < h; i += 4) {
    const __m256d A = load_int(a + 2 * i), B = load_int(a + 2 * i + 4);
    __m256d X = _mm256_unpacklo_pd(A, B), Y = _mm256_unpackhi_pd(A, B);
    k.inv(X, Y, evens_odds(W + h + i), evens_odds(WQ + h + i));
    _mm256_storeu_pd(d + 2 * i, _mm256_unpacklo_pd(X, Y));
    _mm256_storeu_pd(d + 2 * i + 4, _mm256_unpackhi_pd(X, Y));
  }
  span2_layer<false>(d, n / 4, W + n / 4, WQ + n / 4, k);
  for (std::size_t t = 4, h = n / 8; h >= 2; t <<= 1, h >>= 1)
    wide_layer<false>(d, h, t, W + h, WQ + h, k);
  // Last layer folds in 1/N, reduces to [0, q) and converts back to integers.
  const std::size_t t = n / 2;
  const __m256d ni = _mm256_set1_pd(tb.n_inv_d_), niq = _mm256_set1_pd(tb.n_inv_wq_);
  const __m256d lw = _mm256_set1_pd(tb.last_w_d_), lwq = _mm256_set1_pd(tb.last_w_wq_);
  for (std::size_t j = 0; j < t; j += 4) {
    __m256d X = _mm256_loadu_pd(d + j), Y = _mm256_loadu_pd(d + t + j);
    k.last(X, Y, ni, niq, lw, lwq);
    store_int(a + j, X);
    store_int(a + t + j, Y);
  }
}

}  // namespace

DS_AVX2 void ntt_forward_avx2(const NttTables& tb, u64* a) {
  const double q = double(tb.modulus().value);
  if (tb.modulus().value < (u64(1) << 50)) {
    forward(tb, a, LazyKernel{_mm256_set1_pd(q), _mm256_set1_pd(2 * q)});
  } else {
    forward(tb, a, StrictKernel{_mm256_set1_pd(q), _mm256_set1_pd(2 * q)});
  }
}

DS_AVX2 void ntt_inverse_avx2(const NttTables& tb, u64* a) {
  const double q = double(tb.modulus().value);
  if (tb.modulus().value < (u64(1) << 50)) {
    inverse(tb, a, LazyKernel{_mm256_set1_pd(q), _mm256_set1_pd(2 * q)});
  } else {
    inverse(tb, a, StrictKernel{_mm256_set1_pd(q), _mm256_set1_pd(2 * q)});
  }
}

#else
void ntt_forward_avx2(const NttTables& t, u64* a) { t.forward_scalar(a); }
void ntt_inverse_avx2(const NttTables& t, u64* a) { t.inverse_scalar(a); }
#endif

}  // namespace deepseek::security::ckks
