// f32 GEMM for AVX2+FMA (compiled with -mavx2 -mfma; called only when cpu_capability() is avx2).
//
// Goto/BLIS loop nest: for each NC-wide block of B and KC-deep slice of K, B is packed once
// into NR-wide panels (shared by the threads, L3-resident); each thread packs MC-row blocks of
// its rows of A into MR-row panels (L2-resident) and sweeps the 6x16 micro-kernel over them,
// one B panel (L1-resident) against every A panel in turn. Packing makes every operand layout
// (row-major, transposed views, any leading dimension) the same to the micro-kernel, and pads
// the edges with zeros so it always runs full tiles.
#include "deepseek/backend/cpu/gemm/sgemm.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "deepseek/core/parallel.h"

namespace deepseek::cpu::gemm {
namespace {

// Register tile: 6 rows x 16 columns = 12 ymm accumulators, plus 2 for B and 1 for A's
// broadcast, of the 16 registers. Cache blocks sized for Zen 3 / Skylake-class cores
// (32 KiB L1d, >= 512 KiB L2): a KCxNR B panel is 16 KiB, an MCxKC A block 144 KiB.
constexpr int64_t MR = 6, NR = 16;
constexpr int64_t KC = 256, MC = 144, NC = 4080;

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};

// A 64-byte-aligned scratch buffer of at least n floats, kept per thread across calls (packing
// buffers are megabytes: allocating them per call would page-fault on every product).
float* scratch(std::unique_ptr<float, FreeDeleter>& buf, int64_t& cap, int64_t n) {
  if (cap < n) {
    buf.reset(static_cast<float*>(std::aligned_alloc(64, static_cast<size_t>((n * 4 + 63) / 64 * 64))));
    cap = n;
  }
  return buf.get();
}

// Eight columns of six rows, stored column after column (48 contiguous floats): the rows are
// transposed as an 8x8 block whose last two rows are don't-cares, and each column's first six
// values are kept.
inline void transpose_6x8(const float* r0, const float* r1, const float* r2, const float* r3, const float* r4,
                          const float* r5, float* d) {
  __m256 a0 = _mm256_loadu_ps(r0), a1 = _mm256_loadu_ps(r1), a2 = _mm256_loadu_ps(r2);
  __m256 a3 = _mm256_loadu_ps(r3), a4 = _mm256_loadu_ps(r4), a5 = _mm256_loadu_ps(r5);
  __m256 z = _mm256_setzero_ps();
  // 2x2 then 4x4 interleaves within 128-bit lanes, then the lanes swap halves.
  __m256 t0 = _mm256_unpacklo_ps(a0, a1), t1 = _mm256_unpackhi_ps(a0, a1);
  __m256 t2 = _mm256_unpacklo_ps(a2, a3), t3 = _mm256_unpackhi_ps(a2, a3);
  __m256 t4 = _mm256_unpacklo_ps(a4, a5), t5 = _mm256_unpackhi_ps(a4, a5);
  __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  __m256 u4 = _mm256_shuffle_ps(t4, z, 0x44), u5 = _mm256_shuffle_ps(t4, z, 0xEE);
  __m256 u6 = _mm256_shuffle_ps(t5, z, 0x44), u7 = _mm256_shuffle_ps(t5, z, 0xEE);
  // Column c (c < 4) is lane 0 of (u_c, u_{c+4}); column c + 4 is lane 1.
  const __m256 lo[4] = {u0, u1, u2, u3}, hi[4] = {u4, u5, u6, u7};
  for (int c = 0; c < 4; ++c) {
    __m128 a = _mm256_castps256_ps128(lo[c]), b = _mm256_castps256_ps128(hi[c]);
    __m128 a_hi = _mm256_extractf128_ps(lo[c], 1), b_hi = _mm256_extractf128_ps(hi[c], 1);
    _mm_storeu_ps(d + c * MR, a);                // rows 0-3 of column c
    _mm_storel_pi(reinterpret_cast<__m64*>(d + c * MR + 4), b);  // rows 4-5
    _mm_storeu_ps(d + (c + 4) * MR, a_hi);
    _mm_storel_pi(reinterpret_cast<__m64*>(d + (c + 4) * MR + 4), b_hi);
  }
}

// A's rows [0, mc) x columns [0, kc) into MR-row panels: panel p holds, for each k, the MR
// values A[p*MR + r, k]. Rows past mc are zero.
void pack_a(int64_t mc, int64_t kc, const float* a, int64_t rs, int64_t cs, float* ap) {
  for (int64_t i = 0; i < mc; i += MR, ap += MR * kc) {
    int64_t mr = std::min(MR, mc - i);
    const float* s = a + i * rs;
    if (mr == MR && cs == 1) {
      const float *r0 = s, *r1 = s + rs, *r2 = s + 2 * rs, *r3 = s + 3 * rs, *r4 = s + 4 * rs, *r5 = s + 5 * rs;
      int64_t k = 0;
      for (; k + 8 <= kc; k += 8) transpose_6x8(r0 + k, r1 + k, r2 + k, r3 + k, r4 + k, r5 + k, ap + k * MR);
      for (float* d = ap + k * MR; k < kc; ++k, d += MR) {
        d[0] = r0[k], d[1] = r1[k], d[2] = r2[k], d[3] = r3[k], d[4] = r4[k], d[5] = r5[k];
      }
    } else if (mr == MR && rs == 1) {
      for (int64_t k = 0; k < kc; ++k) std::memcpy(ap + k * MR, s + k * cs, MR * sizeof(float));
    } else {
      for (int64_t k = 0; k < kc; ++k)
        for (int64_t r = 0; r < MR; ++r) ap[k * MR + r] = r < mr ? s[r * rs + k * cs] : 0.f;
    }
  }
}

// B's panels [p0, p1) of the rows [0, kc) x columns [0, nc) block into NR-column panels: panel
// p holds, for each k, the NR values B[k, p*NR + c]. Columns past nc are zero.
void pack_b(int64_t kc, int64_t nc, int64_t p0, int64_t p1, const float* b, int64_t rs, int64_t cs, float* bp) {
  for (int64_t p = p0; p < p1; ++p) {
    int64_t j = p * NR, nr = std::min(NR, nc - j);
    const float* s = b + j * cs;
    float* d = bp + p * NR * kc;
    if (nr == NR && cs == 1) {
      for (int64_t k = 0; k < kc; ++k) {
        _mm256_store_ps(d + k * NR, _mm256_loadu_ps(s + k * rs));
        _mm256_store_ps(d + k * NR + 8, _mm256_loadu_ps(s + k * rs + 8));
      }
    } else if (nr == NR && rs == 1) {  // a transposed view: each column is contiguous
      for (int64_t c = 0; c < NR; ++c)
        for (int64_t k = 0; k < kc; ++k) d[k * NR + c] = s[c * cs + k];
    } else {
      for (int64_t k = 0; k < kc; ++k)
        for (int64_t c = 0; c < NR; ++c) d[k * NR + c] = c < nr ? s[k * rs + c * cs] : 0.f;
    }
  }
}

// c[0..6) x [0..16) = alpha * (ap panel . bp panel) + beta * c; beta == 0 never reads c.
void kernel_6x16(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, float alpha, float beta) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int64_t r = 0; r < MR; ++r) {  // both cache lines of each row (rows need not be 64-byte aligned)
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + NR - 1), _MM_HINT_T0);
  }
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k, ap += MR, bp += NR) {
    __m256 b0 = _mm256_load_ps(bp), b1 = _mm256_load_ps(bp + 8), a;
    a = _mm256_broadcast_ss(ap + 0), c00 = _mm256_fmadd_ps(a, b0, c00), c01 = _mm256_fmadd_ps(a, b1, c01);
    a = _mm256_broadcast_ss(ap + 1), c10 = _mm256_fmadd_ps(a, b0, c10), c11 = _mm256_fmadd_ps(a, b1, c11);
    a = _mm256_broadcast_ss(ap + 2), c20 = _mm256_fmadd_ps(a, b0, c20), c21 = _mm256_fmadd_ps(a, b1, c21);
    a = _mm256_broadcast_ss(ap + 3), c30 = _mm256_fmadd_ps(a, b0, c30), c31 = _mm256_fmadd_ps(a, b1, c31);
    a = _mm256_broadcast_ss(ap + 4), c40 = _mm256_fmadd_ps(a, b0, c40), c41 = _mm256_fmadd_ps(a, b1, c41);
    a = _mm256_broadcast_ss(ap + 5), c50 = _mm256_fmadd_ps(a, b0, c50), c51 = _mm256_fmadd_ps(a, b1, c51);
  }
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  auto put = [&](float* row, __m256 lo, __m256 hi) {
    lo = _mm256_mul_ps(va, lo), hi = _mm256_mul_ps(va, hi);
    if (beta != 0.f) {
      lo = _mm256_fmadd_ps(vb, _mm256_loadu_ps(row), lo);
      hi = _mm256_fmadd_ps(vb, _mm256_loadu_ps(row + 8), hi);
    }
    _mm256_storeu_ps(row, lo);
    _mm256_storeu_ps(row + 8, hi);
  };
  put(c, c00, c01);
  put(c + ldc, c10, c11);
  put(c + 2 * ldc, c20, c21);
  put(c + 3 * ldc, c30, c31);
  put(c + 4 * ldc, c40, c41);
  put(c + 5 * ldc, c50, c51);
}

// A partial tile (mr < MR or nr < NR): the full kernel into a local tile, then its valid part.
void kernel_edge(int64_t mr, int64_t nr, int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc,
                 float alpha, float beta) {
  alignas(32) float t[MR * NR];
  kernel_6x16(kc, ap, bp, t, NR, 1.f, 0.f);
  for (int64_t i = 0; i < mr; ++i)
    for (int64_t j = 0; j < nr; ++j) {
      float v = alpha * t[i * NR + j];
      c[i * ldc + j] = beta == 0.f ? v : v + beta * c[i * ldc + j];
    }
}

// The macro-kernel: a packed A block (mc x kc) against B panels [q0, q1) of a packed slice with
// nc columns, into C (c: the block's first row, the slice's first column).
void macro_kernel(int64_t mc, int64_t kc, int64_t nc, int64_t q0, int64_t q1, const float* ap, const float* bk,
                  float* c, int64_t ldc, float alpha, float beta) {
  for (int64_t q = q0; q < q1; ++q) {
    const int64_t j = q * NR, nr = std::min(NR, nc - j);
    for (int64_t i = 0; i < mc; i += MR) {
      const int64_t mr = std::min(MR, mc - i);
      float* ct = c + i * ldc + j;
      const float *at = ap + i * kc, *bt = bk + q * NR * kc;
      if (mr == MR && nr == NR) kernel_6x16(kc, at, bt, ct, ldc, alpha, beta);
      else kernel_edge(mr, nr, kc, at, bt, ct, ldc, alpha, beta);
    }
  }
}

int team_size(int64_t M, int64_t N, int64_t K) {
  // Below ~2^18 multiply-adds a product is over before a team would be worth waking.
  if (M * N * K < (int64_t{1} << 18)) return 1;
  return std::max(1, usable_threads());
}

}  // namespace

int64_t packed_b_floats(int64_t K, int64_t N) { return K * ((N + NR - 1) / NR * NR); }

int64_t packed_b_index(int64_t K, int64_t N, int64_t k, int64_t n) {
  const int64_t panels = (N + NR - 1) / NR, pc = k / KC * KC, q = n / NR;
  return pc * panels * NR + q * NR * std::min(KC, K - pc) + (k - pc) * NR + (n - q * NR);
}

void sgemm_serial_packed(int64_t M, int64_t N, int64_t K, const float* a, int64_t a_row, int64_t a_col,
                         const float* bp, float beta, float* c, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  static thread_local std::unique_ptr<float, FreeDeleter> a_buf;
  static thread_local int64_t a_cap = 0;
  float* ap = scratch(a_buf, a_cap, MC * KC);
  const int64_t panels = (N + NR - 1) / NR;
  for (int64_t pc = 0; pc < K; pc += KC) {
    const int64_t kc = std::min(KC, K - pc);
    const float beta_k = pc == 0 ? beta : 1.f;
    const float* bk = bp + pc * panels * NR;
    for (int64_t ic = 0; ic < M; ic += MC) {
      const int64_t mc = std::min(MC, M - ic);
      pack_a(mc, kc, a + ic * a_row + pc * a_col, a_row, a_col, ap);
      macro_kernel(mc, kc, N, 0, panels, ap, bk, c + ic * ldc, ldc, 1.f, beta_k);
    }
  }
}

void sgemm(int64_t M, int64_t N, int64_t K, float alpha, const float* a, int64_t a_row, int64_t a_col,
           const float* b, int64_t b_row, int64_t b_col, float beta, float* c, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.f) {  // no product: C = beta * C
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) c[i * ldc + j] = beta == 0.f ? 0.f : beta * c[i * ldc + j];
    return;
  }
  static thread_local std::unique_ptr<float, FreeDeleter> b_buf;
  static thread_local int64_t b_cap = 0;
  float* bp = scratch(b_buf, b_cap, KC * ((std::min(N, NC) + NR - 1) / NR * NR));
  const int team = team_size(M, N, K);
  // Threads split the rows when each gets a few MC-sized blocks' worth; otherwise (few rows,
  // e.g. a weight gradient) they split B's panels and each covers all rows.
  const bool split_rows = M >= team * MR * 8;

#pragma omp parallel num_threads(team) if (team > 1)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    static thread_local std::unique_ptr<float, FreeDeleter> a_buf;
    static thread_local int64_t a_cap = 0;
    float* ap = scratch(a_buf, a_cap, MC * KC);
    int64_t m0 = 0, m1 = M;
    if (split_rows) {
      int64_t tiles = (M + MR - 1) / MR, per = (tiles + nt - 1) / nt;
      m0 = std::min(M, t * per * MR), m1 = std::min(M, (t + 1) * per * MR);
    }
    for (int64_t jc = 0; jc < N; jc += NC) {
      const int64_t nc = std::min(NC, N - jc), panels = (nc + NR - 1) / NR;
      int64_t q0 = 0, q1 = panels;  // this thread's B panels in the sweep
      if (!split_rows) q0 = panels * t / nt, q1 = panels * (t + 1) / nt;
      for (int64_t pc = 0; pc < K; pc += KC) {
        const int64_t kc = std::min(KC, K - pc);
        const float beta_k = pc == 0 ? beta : 1.f;
        pack_b(kc, nc, panels * t / nt, panels * (t + 1) / nt, b + pc * b_row + jc * b_col, b_row, b_col, bp);
#pragma omp barrier
        for (int64_t ic = m0; ic < m1; ic += MC) {
          const int64_t mc = std::min(MC, m1 - ic);
          pack_a(mc, kc, a + ic * a_row + pc * a_col, a_row, a_col, ap);
          macro_kernel(mc, kc, nc, q0, q1, ap, bp, c + ic * ldc + jc, ldc, alpha, beta_k);
        }
#pragma omp barrier  // every thread is done with this B block before it is repacked
      }
    }
  }
}

}  // namespace deepseek::cpu::gemm
