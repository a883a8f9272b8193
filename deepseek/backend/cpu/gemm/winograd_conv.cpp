// Winograd F(4x4, 3x3) convolutions for AVX2+FMA (see winograd_conv.h).
//
// Per 4x4 output tile t, input channel c and output channel o, with d the 6x6 input patch:
//   V[t, c] = B^T d B,   U[c, o] = G w[o, c] G^T,   Y[t, o] = A^T (sum_c U[c, o] . V[t, c]) A
// where "." is the elementwise product of 6x6 matrices. For each of the 36 positions xi of
// those matrices the sum over c is a GEMM (tiles x C) @ (C x OC), run by our sgemm on U packed
// once. The weight gradient is the same algebra backwards:
//   dU[xi] = sum_t V[t, xi]^T (A dY_t A^T)[xi],   dw[o, c] = G^T dU[c, o] G.
// Activations (NCHW or NHWC) are first copied to zero-padded NHWC (channels padded to 8), so
// every tile reads a full patch, and transforms run on 8 channels per vector. Tiles go in
// chunks: in the forward, each thread takes whole chunks while the transformed weights are
// small; otherwise, and in the weight gradient, the team shares a chunk whose transformed data
// stays in L3, splitting the tiles for the transforms and the 36 positions for the GEMMs.
#include "deepseek/backend/cpu/gemm/winograd_conv.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "deepseek/backend/cpu/gemm/sgemm.h"
#include "deepseek/core/parallel.h"

namespace deepseek::cpu::gemm {
namespace {

constexpr int64_t kXi = 36;  // 6x6 transformed positions

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

struct Layout {
  int64_t TH, TW, tiles;  // tile rows and columns per image, tiles in the batch
  int64_t Cp, OCp;        // channels padded to whole vectors
  int64_t PH, PW;         // padded input extent: every tile's 6x6 patch lies inside
  int64_t chunk;          // tiles one thread transforms and multiplies on its own
  int64_t team_chunk;     // tiles the team transforms together, then multiplies
  // The forward's chunks: one thread's each while the transformed weights are small (they are
  // read again for every chunk, from L3); the team's when they are large (256 channels and
  // up), where the threads split the 36 GEMMs so each reads its weights once per chunk.
  bool thread_chunks;
};

// Tiles whose transformed inputs and outputs (36 x tiles x (Cp + OCp) floats) fit in `bytes`,
// in whole 6-row panels, at least `least`.
int64_t tiles_fitting(const Layout& l, int64_t bytes, int64_t least) {
  const int64_t fit = bytes / (4 * kXi * (l.Cp + l.OCp));
  return std::min(round_up(l.tiles, 6), std::max(least, fit / 6 * 6));
}

Layout layout(const Conv3x3& g, int team = 1) {
  Layout l{};
  l.TH = (g.OH + 3) / 4, l.TW = (g.OW + 3) / 4, l.tiles = g.N * l.TH * l.TW;
  l.Cp = round_up(g.C, 8), l.OCp = round_up(g.OC, 8);
  l.PH = l.TH * 4 + 2, l.PW = l.TW * 4 + 2;
  // A thread's chunk stays near its own caches (~1 MiB); the team's (~6 MiB, in L3) is also the
  // K of the weight gradient's GEMMs.
  // Thread chunks are also small enough for every thread to get two.
  const int64_t two_each = std::max<int64_t>(12, round_up((l.tiles + 2 * team - 1) / (2 * team), 6));
  l.chunk = std::min(tiles_fitting(l, int64_t{1} << 20, 24), two_each);
  l.team_chunk = tiles_fitting(l, int64_t{6} << 20, 48);
  l.thread_chunks = l.Cp * l.OCp <= 128 * 128;
  return l;
}

// Hands out 64-byte-aligned pieces of the workspace (or, with no base, only counts them).
struct Carver {
  float* base;
  int64_t used = 0;
  float* take(int64_t n) {
    float* p = base ? base + used : nullptr;
    used += round_up(n, 16);
    return p;
  }
};

// ---- 1-D transforms on vectors of 8 channels ----

// o = B^T i (6 -> 6).
inline void bt6(const __m256 i[6], __m256 o[6]) {
  const __m256 two = _mm256_set1_ps(2.f), four = _mm256_set1_ps(4.f), five = _mm256_set1_ps(5.f);
  o[0] = _mm256_fmadd_ps(four, i[0], _mm256_fnmadd_ps(five, i[2], i[4]));
  o[1] = _mm256_fnmadd_ps(four, _mm256_add_ps(i[1], i[2]), _mm256_add_ps(i[3], i[4]));
  o[2] = _mm256_fmadd_ps(four, _mm256_sub_ps(i[1], i[2]), _mm256_sub_ps(i[4], i[3]));
  o[3] = _mm256_fmadd_ps(two, _mm256_sub_ps(i[3], i[1]), _mm256_sub_ps(i[4], i[2]));
  o[4] = _mm256_fmadd_ps(two, _mm256_sub_ps(i[1], i[3]), _mm256_sub_ps(i[4], i[2]));
  o[5] = _mm256_fmadd_ps(four, i[1], _mm256_fnmadd_ps(five, i[3], i[5]));
}

// o = A^T i (6 -> 4).
inline void at6(const __m256 i[6], __m256 o[4]) {
  const __m256 s12 = _mm256_add_ps(i[1], i[2]), d12 = _mm256_sub_ps(i[1], i[2]);
  const __m256 s34 = _mm256_add_ps(i[3], i[4]), d34 = _mm256_sub_ps(i[3], i[4]);
  o[0] = _mm256_add_ps(_mm256_add_ps(i[0], s12), s34);
  o[1] = _mm256_fmadd_ps(_mm256_set1_ps(2.f), d34, d12);
  o[2] = _mm256_fmadd_ps(_mm256_set1_ps(4.f), s34, s12);
  o[3] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8.f), d34, d12), i[5]);
}

// o = A i (4 -> 6): the transform an output gradient tile takes.
inline void a4(const __m256 i[4], __m256 o[6]) {
  const __m256 e = _mm256_add_ps(i[0], i[2]), f = _mm256_add_ps(i[1], i[3]);
  const __m256 four = _mm256_set1_ps(4.f);
  const __m256 e4 = _mm256_fmadd_ps(four, i[2], i[0]), f4 = _mm256_fmadd_ps(four, i[3], i[1]);
  o[0] = i[0];
  o[1] = _mm256_add_ps(e, f);
  o[2] = _mm256_sub_ps(e, f);
  o[3] = _mm256_fmadd_ps(_mm256_set1_ps(2.f), f4, e4);
  o[4] = _mm256_fnmadd_ps(_mm256_set1_ps(2.f), f4, e4);
  o[5] = i[3];
}

// G (6x3): the weight transform.
constexpr float kG[6][3] = {{1.f / 4, 0, 0},           {-1.f / 6, -1.f / 6, -1.f / 6}, {-1.f / 6, 1.f / 6, -1.f / 6},
                            {1.f / 24, 1.f / 12, 1.f / 6}, {1.f / 24, -1.f / 12, 1.f / 6}, {0, 0, 1}};

// out[r, c] = sum_k m(r, k) in[k, c] on vectors, for the small weight transforms; element
// (i, j) of `in` is in[i * in_k + j * in_c], of `out` out[i * out_r + j * out_c], so a
// product on the right (x M^T) is the same call with rows and columns swapped.
template <int R, int K, int C, typename Coef>
inline void combine(Coef m, const __m256* in, int in_k, int in_c, __m256* out, int out_r, int out_c) {
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      __m256 s = _mm256_setzero_ps();
      for (int k = 0; k < K; ++k)
        if (m(r, k) != 0.f) s = _mm256_fmadd_ps(_mm256_set1_ps(m(r, k)), in[k * in_k + c * in_c], s);
      out[r * out_r + c * out_c] = s;
    }
}
constexpr auto kGm = [](int r, int k) { return kG[r][k]; };   // G
constexpr auto kGt = [](int r, int k) { return kG[k][r]; };   // G^T

// u = G k G^T (3x3 -> 6x6) for 8 kernels at once (lane j: one output channel).
inline void weight_tile(const __m256 k[9], __m256 u[36]) {
  __m256 gk[18];                               // G k, 6x3
  combine<6, 3, 3>(kGm, k, 3, 1, gk, 3, 1);
  combine<6, 3, 6>(kGm, gk, 1, 3, u, 1, 6);    // u[i, j] = sum_a G[j, a] gk[i, a]
}

// k = G^T u G (6x6 -> 3x3) for 8 channels at once: the weight gradient from dU.
inline void weight_grad_tile(const __m256 u[36], __m256 k[9]) {
  __m256 gu[18];                               // G^T u, 3x6
  combine<3, 6, 6>(kGt, u, 6, 1, gu, 6, 1);
  combine<3, 6, 3>(kGt, gu, 1, 6, k, 1, 3);    // k[a, e] = sum_j G[j, e] gu[a, j]
}

// ---- 2-D tile transforms: 8 channels of one tile ----

// V[xi] = (B^T d B)[xi] at v + xi * vs, for the 6x6 patch d at p (rows `row` apart, columns
// `col` apart).
inline void input_tile(const float* p, int64_t row, int64_t col, float* v, int64_t vs) {
  __m256 t[6][6];
  for (int j = 0; j < 6; ++j) {
    __m256 d[6], o[6];
    for (int i = 0; i < 6; ++i) d[i] = _mm256_loadu_ps(p + i * row + j * col);
    bt6(d, o);
    for (int i = 0; i < 6; ++i) t[i][j] = o[i];
  }
  for (int i = 0; i < 6; ++i) {
    __m256 o[6];
    bt6(t[i], o);
    for (int k = 0; k < 6; ++k) _mm256_storeu_ps(v + (i * 6 + k) * vs, o[k]);
  }
}

// D[xi] = (A q A^T)[xi] at d + xi * ds, for the 4x4 output-gradient tile q at p.
inline void grad_tile(const float* p, int64_t row, int64_t col, float* d, int64_t ds) {
  __m256 r[4][6];
  for (int i = 0; i < 4; ++i) {
    __m256 q[4];
    for (int j = 0; j < 4; ++j) q[j] = _mm256_loadu_ps(p + i * row + j * col);
    a4(q, r[i]);
  }
  for (int k = 0; k < 6; ++k) {
    __m256 c[4] = {r[0][k], r[1][k], r[2][k], r[3][k]}, o[6];
    a4(c, o);
    for (int i = 0; i < 6; ++i) _mm256_storeu_ps(d + (i * 6 + k) * ds, o[i]);
  }
}

// y[i][j] = (A^T m A)[i][j] + bias for m[xi] at m + xi * ms.
inline void output_tile(const float* m, int64_t ms, __m256 bias, __m256 y[4][4]) {
  __m256 r[6][4];
  for (int i = 0; i < 6; ++i) {
    __m256 row[6];
    for (int k = 0; k < 6; ++k) row[k] = _mm256_loadu_ps(m + (i * 6 + k) * ms);
    at6(row, r[i]);
  }
  for (int j = 0; j < 4; ++j) {
    __m256 c[6] = {r[0][j], r[1][j], r[2][j], r[3][j], r[4][j], r[5][j]}, o[4];
    at6(c, o);
    for (int i = 0; i < 4; ++i) y[i][j] = _mm256_add_ps(o[i], bias);
  }
}

// The rows x cols corner of a 4x4 tile of 8 channels (chans of them real) into NCHW at y
// (channel planes `plane` apart, rows `ow` apart).
inline void store_tile(const __m256 t[4][4], float* y, int64_t plane, int64_t ow, int64_t rows, int64_t cols,
                       int64_t chans) {
  for (int64_t i = 0; i < rows; ++i) {
    __m128 a0 = _mm256_castps256_ps128(t[i][0]), a1 = _mm256_castps256_ps128(t[i][1]);
    __m128 a2 = _mm256_castps256_ps128(t[i][2]), a3 = _mm256_castps256_ps128(t[i][3]);
    __m128 b0 = _mm256_extractf128_ps(t[i][0], 1), b1 = _mm256_extractf128_ps(t[i][1], 1);
    __m128 b2 = _mm256_extractf128_ps(t[i][2], 1), b3 = _mm256_extractf128_ps(t[i][3], 1);
    _MM_TRANSPOSE4_PS(a0, a1, a2, a3);  // a_k: channel k's four columns
    _MM_TRANSPOSE4_PS(b0, b1, b2, b3);
    const __m128 ch[8] = {a0, a1, a2, a3, b0, b1, b2, b3};
    for (int64_t k = 0; k < chans; ++k) {
      float* dst = y + k * plane + i * ow;
      if (cols == 4) {
        _mm_storeu_ps(dst, ch[k]);
      } else {
        alignas(16) float v[4];
        _mm_store_ps(v, ch[k]);
        for (int64_t j = 0; j < cols; ++j) dst[j] = v[j];
      }
    }
  }
}

// The same corner into NHWC at y (pixels `pixel` floats apart, rows `row` apart).
inline void store_tile_nhwc(const __m256 t[4][4], float* y, int64_t pixel, int64_t row, int64_t rows, int64_t cols,
                            int64_t chans) {
  const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(chans)),
                                          _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      float* dst = y + i * row + j * pixel;
      if (chans == 8) _mm256_storeu_ps(dst, t[i][j]);
      else _mm256_maskstore_ps(dst, mask, t[i][j]);
    }
}

inline void transpose8x8(__m256 r[8]) {
  __m256 t[8], s[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int h = 0; h < 2; ++h) {  // rows 0-3, then 4-7
    __m256 *a = t + 4 * h, *o = s + 4 * h;
    o[0] = _mm256_shuffle_ps(a[0], a[2], 0x44), o[1] = _mm256_shuffle_ps(a[0], a[2], 0xEE);
    o[2] = _mm256_shuffle_ps(a[1], a[3], 0x44), o[3] = _mm256_shuffle_ps(a[1], a[3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x20);
    r[i + 4] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x31);
  }
}

// src (N, C, H, W), NCHW or NHWC (src_nhwc), into dst (N, PH, PW, Cp): dst[n, py, px, c] =
// src[n, c, py - top, px - left], zero outside src and for c >= C. Runs as an `omp for` of the
// enclosing team.
void to_padded_nhwc(const float* src, bool src_nhwc, int64_t N, int64_t C, int64_t H, int64_t W, int64_t top,
                    int64_t left, int64_t PH, int64_t PW, int64_t Cp, float* dst) {
#pragma omp for collapse(2) schedule(static)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t py = 0; py < PH; ++py) {
      float* out = dst + (n * PH + py) * PW * Cp;
      const int64_t y = py - top;
      if (y < 0 || y >= H) {
        std::memset(out, 0, sizeof(float) * PW * Cp);
        continue;
      }
      // Columns px in [x0, x1) come from src columns px - left; the rest are zero.
      const int64_t x0 = std::clamp<int64_t>(left, 0, PW), x1 = std::clamp<int64_t>(left + W, 0, PW);
      std::memset(out, 0, sizeof(float) * x0 * Cp);
      std::memset(out + x1 * Cp, 0, sizeof(float) * (PW - x1) * Cp);
      if (src_nhwc) {  // a copy of each pixel's channels
        const float* in = src + (n * H + y) * W * C;
        for (int64_t px = x0; px < x1; ++px) {
          std::memcpy(out + px * Cp, in + (px - left) * C, sizeof(float) * C);
          std::memset(out + px * Cp + C, 0, sizeof(float) * (Cp - C));
        }
        continue;
      }
      const float* in = src + (n * C * H + y) * W;  // in[c * H * W + x] = src[n, c, y, x]
      const int64_t plane = H * W;
      int64_t c = 0;
      for (; c + 8 <= C; c += 8) {
        int64_t px = x0;
        for (; px + 8 <= x1; px += 8) {
          __m256 r[8];
          for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(in + (c + k) * plane + (px - left));
          transpose8x8(r);
          for (int k = 0; k < 8; ++k) _mm256_storeu_ps(out + (px + k) * Cp + c, r[k]);
        }
        for (; px < x1; ++px)
          for (int k = 0; k < 8; ++k) out[px * Cp + c + k] = in[(c + k) * plane + (px - left)];
      }
      for (int64_t px = x0; px < x1; ++px) {
        for (int64_t k = c; k < C; ++k) out[px * Cp + k] = in[k * plane + (px - left)];
        for (int64_t k = C; k < Cp; ++k) out[px * Cp + k] = 0.f;
      }
    }
}

// Splits of each position's GEMM so a team of nt threads has at least two pieces each.
int64_t gemm_splits(int nt) { return std::max<int64_t>(1, (2 * nt + kXi - 1) / kXi); }

// Row range [r0, r1) of split s of m rows (in whole 6-row panels).
void split_rows(int64_t m, int64_t s, int64_t splits, int64_t& r0, int64_t& r1) {
  const int64_t panels = (m + 5) / 6;
  r0 = std::min(m, panels * s / splits * 6), r1 = std::min(m, panels * (s + 1) / splits * 6);
}

struct TileAt {
  int64_t n, ty, tx;
};
TileAt tile_at(const Layout& l, int64_t t) {
  return {t / (l.TH * l.TW), t / l.TW % l.TH, t % l.TW};
}

struct ForwardBuffers {
  float *P, *Up, *V, *M;
};
ForwardBuffers carve_forward(const Conv3x3& g, const Layout& l, int team, Carver& cv) {
  ForwardBuffers b{};
  b.P = cv.take(g.N * l.PH * l.PW * l.Cp);
  b.Up = cv.take(kXi * packed_b_floats(l.Cp, l.OCp));
  const int64_t tiles = l.thread_chunks ? team * l.chunk : l.team_chunk;  // one chunk per thread, or one
  b.V = cv.take(kXi * tiles * l.Cp);
  b.M = cv.take(kXi * tiles * l.OCp);
  return b;
}

struct WeightGradBuffers {
  float *P, *Q, *V, *D, *dU;
};
WeightGradBuffers carve_weight_grad(const Conv3x3& g, const Layout& l, Carver& cv) {
  WeightGradBuffers b{};
  b.P = cv.take(g.N * l.PH * l.PW * l.Cp);
  b.Q = cv.take(g.N * (l.TH * 4) * (l.TW * 4) * l.OCp);
  b.V = cv.take(kXi * l.team_chunk * l.Cp);
  b.D = cv.take(kXi * l.team_chunk * l.OCp);
  b.dU = cv.take(kXi * l.Cp * l.OCp);
  return b;
}

// Input tile t into V: its 36 transformed positions, vs floats apart, Cp channels each.
void transform_input_tile(const Layout& l, const float* P, int64_t t, float* v, int64_t vs) {
  const TileAt at = tile_at(l, t);
  const float* p = P + ((at.n * l.PH + at.ty * 4) * l.PW + at.tx * 4) * l.Cp;
  for (int64_t c = 0; c < l.Cp; c += 8) input_tile(p + c, l.PW * l.Cp, l.Cp, v + c, vs);
}

// Output tile t (+ bias) into y from its 36 positions in m, ms floats apart, OCp channels each.
void write_output_tile(const Conv3x3& g, const Layout& l, const float* m, int64_t ms, const float* bias,
                       int64_t t, float* y) {
  const TileAt at = tile_at(l, t);
  const int64_t oy = at.ty * 4, ox = at.tx * 4;
  const int64_t rows = std::min<int64_t>(4, g.OH - oy), cols = std::min<int64_t>(4, g.OW - ox);
  for (int64_t o = 0; o < g.OC; o += 8) {
    const int64_t chans = std::min<int64_t>(8, g.OC - o);
    alignas(32) float bv[8] = {};
    if (bias)
      for (int64_t k = 0; k < chans; ++k) bv[k] = bias[o + k];
    __m256 tile[4][4];
    output_tile(m + o, ms, _mm256_load_ps(bv), tile);
    if (g.y_nhwc)
      store_tile_nhwc(tile, y + ((at.n * g.OH + oy) * g.OW + ox) * g.OC + o, g.OC, g.OW * g.OC, rows, cols, chans);
    else
      store_tile(tile, y + ((at.n * g.OC + o) * g.OH + oy) * g.OW + ox, g.OH * g.OW, g.OW, rows, cols, chans);
  }
}

}  // namespace

bool winograd_pays(const Conv3x3& g) {
  // Measured against oneDNN's direct jit:avx2 kernels on a 2-core Zen 3, forward and both
  // gradients: 16 channels lose (the GEMMs are too short to pay for the transforms); from 32
  // channels on it wins, 1.2-1.9x at batch 32 for 32-256 channels at 56-14 px, 1.8x for 256
  // channels at 7 px and 2.7x for 512 at 4 px (batch 128). Below ~128 tiles in the batch
  // (batch-1 inference past 28 px) the weight transform, paid per call, outweighs the saved
  // products; and tiles must be at least half used (a 2x2 output in a 4x4 tile is not).
  const Layout l = layout(g);
  const double used = static_cast<double>(g.OH * g.OW) / static_cast<double>(l.TH * l.TW * 16);
  return g.C >= 32 && g.OC >= 32 && l.tiles >= 128 && used >= 0.5;
}

int64_t winograd_forward_workspace(const Conv3x3& g) {
  Carver cv{nullptr};
  const int team = usable_threads();
  carve_forward(g, layout(g, team), team, cv);
  return cv.used;
}

int64_t winograd_backward_weights_workspace(const Conv3x3& g) {
  Carver cv{nullptr};
  carve_weight_grad(g, layout(g), cv);
  return cv.used;
}

void winograd_forward(const Conv3x3& g, const float* x, const float* w, const float* bias, float* y, float* ws) {
  const int team = usable_threads();
  const Layout l = layout(g, team);
  Carver cv{ws};
  const ForwardBuffers b = carve_forward(g, l, team, cv);
  const int64_t pb = packed_b_floats(l.Cp, l.OCp);
#pragma omp parallel num_threads(team) if (team > 1)
  {
    to_padded_nhwc(x, g.x_nhwc, g.N, g.C, g.H, g.W, g.pad_top, g.pad_left, l.PH, l.PW, l.Cp, b.P);
    // U[xi, c, o] = (G w[o, c] G^T)[xi], zero for padded channels; 8 output channels a vector,
    // written straight into the sgemm's packed-B layout (Up).
#pragma omp for schedule(static)
    for (int64_t c = 0; c < l.Cp; ++c)
      for (int64_t o = 0; o < l.OCp; o += 8) {
        alignas(32) float k[9][8] = {};
        for (int64_t j = 0; j < 8 && c < g.C && o + j < g.OC; ++j)
          for (int e = 0; e < 9; ++e)
            k[e][j] = g.w_flipped ? w[(c * g.OC + o + j) * 9 + 8 - e] : w[((o + j) * g.C + c) * 9 + e];
        __m256 kv[9], u[36];
        for (int e = 0; e < 9; ++e) kv[e] = _mm256_load_ps(k[e]);
        weight_tile(kv, u);
        const int64_t at = packed_b_index(l.Cp, l.OCp, c, o);
        for (int xi = 0; xi < kXi; ++xi) _mm256_store_ps(b.Up + xi * pb + at, u[xi]);
      }

    if (l.thread_chunks) {
      // Each thread takes whole chunks of tiles: transforms, 36 GEMMs and the output, with no
      // barrier between and its transformed data near its own caches.
      const int t = omp_get_thread_num();
      const int64_t T = l.chunk;
      float *V = b.V + t * kXi * T * l.Cp, *M = b.M + t * kXi * T * l.OCp;
#pragma omp for schedule(dynamic)
      for (int64_t t0 = 0; t0 < l.tiles; t0 += T) {
        const int64_t tn = std::min(T, l.tiles - t0);
        for (int64_t i = 0; i < tn; ++i) transform_input_tile(l, b.P, t0 + i, V + i * l.Cp, T * l.Cp);
        for (int64_t xi = 0; xi < kXi; ++xi)
          sgemm_serial_packed(tn, l.OCp, l.Cp, V + xi * T * l.Cp, l.Cp, 1, b.Up + xi * pb, 0.f, M + xi * T * l.OCp,
                              l.OCp);
        for (int64_t i = 0; i < tn; ++i) write_output_tile(g, l, M + i * l.OCp, T * l.OCp, bias, t0 + i, y);
      }
    } else {
      // The team transforms a chunk, splits its 36 GEMMs, then writes its outputs.
      const int64_t T = l.team_chunk, splits = gemm_splits(omp_get_num_threads());
      for (int64_t t0 = 0; t0 < l.tiles; t0 += T) {
        const int64_t tn = std::min(T, l.tiles - t0);
#pragma omp for schedule(static)
        for (int64_t i = 0; i < tn; ++i) transform_input_tile(l, b.P, t0 + i, b.V + i * l.Cp, T * l.Cp);
#pragma omp for schedule(dynamic)
        for (int64_t item = 0; item < kXi * splits; ++item) {
          const int64_t xi = item / splits;
          int64_t r0, r1;
          split_rows(tn, item % splits, splits, r0, r1);
          sgemm_serial_packed(r1 - r0, l.OCp, l.Cp, b.V + (xi * T + r0) * l.Cp, l.Cp, 1, b.Up + xi * pb, 0.f,
                              b.M + (xi * T + r0) * l.OCp, l.OCp);
        }
#pragma omp for schedule(static)
        for (int64_t i = 0; i < tn; ++i) write_output_tile(g, l, b.M + i * l.OCp, T * l.OCp, bias, t0 + i, y);
      }
    }
  }
}

void winograd_backward_weights(const Conv3x3& g, const float* dy, const float* x, float* dw, float* ws) {
  const Layout l = layout(g);
  Carver cv{ws};
  const WeightGradBuffers b = carve_weight_grad(g, l, cv);
  const int64_t QH = l.TH * 4, QW = l.TW * 4;
  const int team = usable_threads();
#pragma omp parallel num_threads(team) if (team > 1)
  {
    to_padded_nhwc(x, g.x_nhwc, g.N, g.C, g.H, g.W, g.pad_top, g.pad_left, l.PH, l.PW, l.Cp, b.P);
    to_padded_nhwc(dy, g.y_nhwc, g.N, g.OC, g.OH, g.OW, 0, 0, QH, QW, l.OCp, b.Q);
    const int64_t splits = gemm_splits(omp_get_num_threads());
    const int64_t T = l.team_chunk;
    for (int64_t t0 = 0; t0 < l.tiles; t0 += T) {
      const int64_t tn = std::min(T, l.tiles - t0);
#pragma omp for schedule(static)
      for (int64_t i = 0; i < tn; ++i) {
        transform_input_tile(l, b.P, t0 + i, b.V + i * l.Cp, T * l.Cp);
        const TileAt t = tile_at(l, t0 + i);
        const float* q = b.Q + ((t.n * QH + t.ty * 4) * QW + t.tx * 4) * l.OCp;
        for (int64_t o = 0; o < l.OCp; o += 8) grad_tile(q + o, QW * l.OCp, l.OCp, b.D + i * l.OCp + o, T * l.OCp);
      }
      // dU[xi] (Cp x OCp) += V[xi]^T (Cp x tn) @ D[xi] (tn x OCp)
#pragma omp for schedule(dynamic)
      for (int64_t item = 0; item < kXi * splits; ++item) {
        const int64_t xi = item / splits;
        int64_t r0, r1;
        split_rows(l.Cp, item % splits, splits, r0, r1);
        sgemm(r1 - r0, l.OCp, tn, 1.f, b.V + xi * T * l.Cp + r0, 1, l.Cp, b.D + xi * T * l.OCp, l.OCp,
              1, t0 == 0 ? 0.f : 1.f, b.dU + (xi * l.Cp + r0) * l.OCp, l.OCp);
      }
    }
    // dw[o, c] = G^T dU[., c, o] G, 8 output channels a vector.
#pragma omp for schedule(static)
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t o = 0; o < g.OC; o += 8) {
        __m256 u[36], kv[9];
        for (int xi = 0; xi < kXi; ++xi) u[xi] = _mm256_loadu_ps(b.dU + (xi * l.Cp + c) * l.OCp + o);
        weight_grad_tile(u, kv);
        alignas(32) float k[9][8];
        for (int e = 0; e < 9; ++e) _mm256_store_ps(k[e], kv[e]);
        for (int64_t j = 0; j < 8 && o + j < g.OC; ++j)
          for (int e = 0; e < 9; ++e) dw[((o + j) * g.C + c) * 9 + e] = k[e][j];
      }
  }
}

}  // namespace deepseek::cpu::gemm
