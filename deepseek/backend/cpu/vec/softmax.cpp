// Fused softmax and log_softmax over one dim: one pass for the max, one for the sum of
// exponentials, one to write — instead of five separate elementwise/reduction ops. Rows along
// a contiguous dim (the common case) run three SIMD loops: max in independent lanes, exp
// written to the output while summing it in lanes, then a scale in place. Lanes fold in a
// fixed order, so results do not depend on threads.
#include <cmath>
#include <limits>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "deepseek/backend/cpu/vec/vec.h"
#include "deepseek/backend/dim_split.h"
#include "deepseek/backend/cpu/vec/vmath.h"

namespace deepseek::cpu::DS_CPU_CAPABILITY {
namespace {

template <typename V> inline V vexp(V x) {
  if constexpr (std::is_same_v<V, float>) return vmath::expf(x); else return std::exp(x);
}

inline constexpr int kLanes = 16;

#if defined(__AVX2__) && defined(__FMA__)
// vmath::expf on 8 lanes (same Cephes steps); NaN propagates.
inline __m256 exp256(__m256 x) {
  x = _mm256_min_ps(_mm256_set1_ps(88.7228391f), _mm256_max_ps(_mm256_set1_ps(-103.972084f), x));
  __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fmadd_ps(n, _mm256_set1_ps(2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
  __m256i ni = _mm256_cvtps_epi32(n);
  __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
  __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23));
  __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, _mm256_set1_epi32(127)), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

inline float hsum256(__m256 v) {
  alignas(32) float t[8];
  _mm256_store_ps(t, v);
  return ((t[0] + t[4]) + (t[1] + t[5])) + ((t[2] + t[6]) + (t[3] + t[7]));
}

// f32 row with AVX2: max over 32 lanes, exp stored and summed in 16 lanes, scale in place.
template <bool Log> void softmax_row_avx2(const float* p, float* q, int64_t n) {
  __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0, m2 = m0, m3 = m0;
  int64_t k = 0;
  for (; k + 32 <= n; k += 32) {
    m0 = _mm256_max_ps(m0, _mm256_loadu_ps(p + k));
    m1 = _mm256_max_ps(m1, _mm256_loadu_ps(p + k + 8));
    m2 = _mm256_max_ps(m2, _mm256_loadu_ps(p + k + 16));
    m3 = _mm256_max_ps(m3, _mm256_loadu_ps(p + k + 24));
  }
  for (; k + 8 <= n; k += 8) m0 = _mm256_max_ps(m0, _mm256_loadu_ps(p + k));
  m0 = _mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3));
  alignas(32) float t[8];
  _mm256_store_ps(t, m0);
  float m = t[0];
  for (int j = 1; j < 8; ++j) m = t[j] > m ? t[j] : m;
  for (; k < n; ++k) m = p[k] > m ? p[k] : m;
  if (m == -INFINITY) m = 0;  // all -inf: avoid inf - inf (a NaN makes the sum NaN)
  const __m256 vm = _mm256_set1_ps(m);
  __m256 s0 = _mm256_setzero_ps(), s1 = s0;
  k = 0;
  for (; k + 16 <= n; k += 16) {
    __m256 e0 = exp256(_mm256_sub_ps(_mm256_loadu_ps(p + k), vm));
    __m256 e1 = exp256(_mm256_sub_ps(_mm256_loadu_ps(p + k + 8), vm));
    if constexpr (!Log) {
      _mm256_storeu_ps(q + k, e0);
      _mm256_storeu_ps(q + k + 8, e1);
    }
    s0 = _mm256_add_ps(s0, e0);
    s1 = _mm256_add_ps(s1, e1);
  }
  float s = hsum256(_mm256_add_ps(s0, s1));
  for (; k < n; ++k) {
    float e = vmath::expf(p[k] - m);
    if constexpr (!Log) q[k] = e;
    s += e;
  }
  k = 0;
  if constexpr (Log) {
    const __m256 ls = _mm256_set1_ps(m + std::log(s));
    for (; k + 8 <= n; k += 8) _mm256_storeu_ps(q + k, _mm256_sub_ps(_mm256_loadu_ps(p + k), ls));
    for (; k < n; ++k) q[k] = p[k] - (m + std::log(s));
  } else {
    const float inv = 1.0f / s;
    const __m256 vi = _mm256_set1_ps(inv);
    for (; k + 8 <= n; k += 8) _mm256_storeu_ps(q + k, _mm256_mul_ps(_mm256_loadu_ps(q + k), vi));
    for (; k < n; ++k) q[k] *= inv;
  }
}
#endif

template <typename V> V fold_lanes(V* acc, bool is_max) {
  for (int w = kLanes / 2; w >= 1; w /= 2)
    for (int j = 0; j < w; ++j) acc[j] = is_max ? (acc[j + w] > acc[j] ? acc[j + w] : acc[j]) : acc[j] + acc[j + w];
  return acc[0];
}

// One contiguous row of n values.
template <bool Log, typename T, typename V> void softmax_row(const T* p, T* q, int64_t n) {
#if defined(__AVX2__) && defined(__FMA__)
  if constexpr (std::is_same_v<T, float>) {
    softmax_row_avx2<Log>(p, q, n);
    return;
  }
#endif
  V mx[kLanes];
  for (int j = 0; j < kLanes; ++j) mx[j] = -std::numeric_limits<V>::infinity();
  int64_t k = 0;
  for (; k + kLanes <= n; k += kLanes)
    for (int j = 0; j < kLanes; ++j) {
      V v = static_cast<V>(p[k + j]);
      mx[j] = v > mx[j] ? v : mx[j];
    }
  for (int j = 0; k + j < n; ++j) {
    V v = static_cast<V>(p[k + j]);
    mx[j] = v > mx[j] ? v : mx[j];
  }
  V m = fold_lanes(mx, true);
  // All -inf: avoid inf - inf. A NaN anywhere makes the sum NaN, so the row is NaN.
  if (m == -std::numeric_limits<V>::infinity()) m = 0;
  V acc[kLanes] = {};
  k = 0;
  if constexpr (std::is_same_v<T, V>) {
    // exp written to the output, summed in lanes, then scaled in place.
    for (; k + kLanes <= n; k += kLanes)
      for (int j = 0; j < kLanes; ++j) {
        V e = vexp(p[k + j] - m);
        if constexpr (!Log) q[k + j] = e;
        acc[j] += e;
      }
    for (int j = 0; k + j < n; ++j) {
      V e = vexp(p[k + j] - m);
      if constexpr (!Log) q[k + j] = e;
      acc[j] += e;
    }
    V s = fold_lanes(acc, false);
    if constexpr (Log) {
      V ls = m + std::log(s);
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) q[i] = p[i] - ls;
    } else {
      V inv = V(1) / s;
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) q[i] *= inv;
    }
  } else {  // f16/bf16: compute in V, exp twice rather than storing rounded values
    for (; k + kLanes <= n; k += kLanes)
      for (int j = 0; j < kLanes; ++j) acc[j] += vexp(static_cast<V>(p[k + j]) - m);
    for (int j = 0; k + j < n; ++j) acc[j] += vexp(static_cast<V>(p[k + j]) - m);
    V s = fold_lanes(acc, false);
    if constexpr (Log) {
      V ls = m + std::log(s);
      for (int64_t i = 0; i < n; ++i) q[i] = static_cast<T>(static_cast<V>(p[i]) - ls);
    } else {
      V inv = V(1) / s;
      for (int64_t i = 0; i < n; ++i) q[i] = static_cast<T>(vexp(static_cast<V>(p[i]) - m) * inv);
    }
  }
}

template <bool Log>
void softmax_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  // Input is made contiguous by the op definition; out is fresh and contiguous.
  const DimSplit geo = split_at_dim(x, a.get<int64_t>("dim"), "softmax");
  const int64_t outer = geo.outer, n = geo.n, inner = geo.inner;
  visit_floating(x.dtype(), "softmax", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using V = opmath_t<T>;
    const T* src = x.data<T>();
    T* dst = out[0].data<T>();
    if (inner == 1) {
      parallel_for(0, outer, std::max<int64_t>(1, kGrain / std::max<int64_t>(n, 1)), [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) softmax_row<Log, T, V>(src + r * n, dst + r * n, n);
      });
      return;
    }
    parallel_for(0, outer * inner, std::max<int64_t>(1, kGrain / std::max<int64_t>(n, 1)), [&](int64_t b, int64_t e) {
      std::vector<V> buf(n);
      for (int64_t r = b; r < e; ++r) {
        int64_t o = r / inner, i = r % inner;
        const T* p = src + o * n * inner + i;
        T* q = dst + o * n * inner + i;
        V m = -std::numeric_limits<V>::infinity();
        for (int64_t k = 0; k < n; ++k) {
          buf[k] = static_cast<V>(p[k * inner]);
          m = buf[k] > m ? buf[k] : m;
        }
        if (m == -std::numeric_limits<V>::infinity()) m = 0;  // all -inf: avoid inf - inf
        V s = 0;
        V* bp = buf.data();
#pragma omp simd reduction(+ : s)
        for (int64_t k = 0; k < n; ++k) s += vexp(bp[k] - m);
        if constexpr (Log) {
          V ls = m + std::log(s);
          for (int64_t k = 0; k < n; ++k) q[k * inner] = static_cast<T>(bp[k] - ls);
        } else {
          V inv = V(1) / s;
          for (int64_t k = 0; k < n; ++k) q[k * inner] = static_cast<T>(vexp(bp[k] - m) * inv);
        }
      }
    });
  });
}

// dx = g - exp(y) * sum(g) along the dim; inputs contiguous (the op definition).
void log_softmax_backward_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor &g = in[0], &y = in[1];
  const DimSplit geo = split_at_dim(y, a.get<int64_t>("dim"), "log_softmax_backward");
  const int64_t outer = geo.outer, n = geo.n, inner = geo.inner;
  visit_floating(y.dtype(), "log_softmax_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using V = opmath_t<T>;
    const T *gp = g.data<T>(), *yp = y.data<T>();
    T* dp = out[0].data<T>();
    parallel_for(0, outer * inner, std::max<int64_t>(1, kGrain / std::max<int64_t>(n, 1)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        int64_t base = (r / inner) * n * inner + r % inner;
        V s = 0;
        for (int64_t k = 0; k < n; ++k) s += static_cast<V>(gp[base + k * inner]);
        for (int64_t k = 0; k < n; ++k) {
          int64_t j = base + k * inner;
          dp[j] = static_cast<T>(static_cast<V>(gp[j]) - vexp(static_cast<V>(yp[j])) * s);
        }
      }
    });
  });
}

}  // namespace

void register_softmax_kernels() {
  reg("softmax", softmax_kernel<false>);
  reg("log_softmax", softmax_kernel<true>);
  reg("log_softmax_backward", log_softmax_backward_kernel);
}

}  // namespace deepseek::cpu::DS_CPU_CAPABILITY
