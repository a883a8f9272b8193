// Flash attention on tensor cores (the FlashAttention-2 scheme) for f16/bf16 inputs with head
// size 64 or 128, on (N, L, H, D) tensors read through their strides (so q, k and v can be
// views of one packed projection, and the output is (N, L, E) for the output projection with
// no transposes): the ops `flash_attention` (output and the log-sum-exp of each row) and
// `flash_attention_backward` (dq, dk, dv), which scaled_dot_product_attention uses on CUDA
// when there is no mask and no dropout (ops/defs/attention.cpp says when).
//
// Forward: a block of 4 warps takes 64 query rows (16 per warp) and walks the keys in tiles of
// 64 held in shared memory, double-buffered with cp.async so the next tile loads while this
// one is used; each warp keeps its scores, running max and sum and its output rows
// in registers (mma.sync m16n8k16, f32 accumulators), so the (L, S) matrix never exists.
// Backward: a block takes 64 keys (16 per warp) and walks the query tiles, recomputing the
// probabilities from the saved log-sum-exp; dK and dV stay in registers, dQ is summed over key
// blocks with f32 atomics (so dq may differ in the last bits run to run) and cast at the end.
//
// Fragment layouts (PTX ISA, mma.m16n8k16 with 16-bit inputs), g = lane / 4, t = lane % 4:
//   A (16x16): a0 = A[g][2t, 2t+1], a1 = A[g+8][2t..], a2 = A[g][2t+8..], a3 = A[g+8][2t+8..]
//   B (16x8):  b0 = B[2t, 2t+1][g], b1 = B[2t+8, 2t+9][g]
//   C (16x8):  c0, c1 = C[g][2t, 2t+1], c2, c3 = C[g+8][2t, 2t+1]
// so the C tiles of scores for keys 16k..16k+15 are, packed to 16 bits, the A fragment of the
// next product (P V) with no trip through shared memory.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>

#include "deepseek/backend/cuda/device/loops.cuh"
#include "deepseek/ops/raw_ops.h"

namespace deepseek::cuda {
namespace {

constexpr int kRows = 64;     // query rows (forward) or keys (backward) per block
constexpr int kTile = 64;     // keys (forward) or query rows (backward) per step
constexpr int kThreads = 128;  // 4 warps of 16 rows
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

template <typename T>
__device__ __forceinline__ uint32_t pack2(float lo, float hi);
template <>
__device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&v);
}
template <>
__device__ __forceinline__ uint32_t pack2<__half>(float lo, float hi) {
  __half2 v = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&v);
}

// c += a b for one 16x8x16 tile.
template <typename T>
__device__ __forceinline__ void mma(float c[4], const uint32_t a[4], const uint32_t b0, const uint32_t b1) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

__device__ __forceinline__ uint32_t lds32(const uint16_t* p) { return *reinterpret_cast<const uint32_t*>(p); }

// Operand fragments from a 16-bit matrix M in shared memory with row stride ld (elements).
// A[m][k] = M[r0 + m][c0 + k].
__device__ __forceinline__ void frag_a(uint32_t a[4], const uint16_t* M, int ld, int r0, int c0, int lane) {
  const uint16_t* p = M + (r0 + (lane >> 2)) * ld + c0 + 2 * (lane & 3);
  a[0] = lds32(p);
  a[1] = lds32(p + 8 * ld);
  a[2] = lds32(p + 8);
  a[3] = lds32(p + 8 * ld + 8);
}
// Four 8x8 16-bit matrices from shared memory, transposed: lane l gives the address of row
// l % 8 of matrix l / 8; r[i] receives matrix i as a fragment of its transpose.
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t r[4], const uint16_t* row) {
  uint32_t addr = static_cast<uint32_t>(__cvta_generic_to_shared(row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
// A[m][k] = M[r0 + k][c0 + m] (M holds A transposed).
__device__ __forceinline__ void frag_a_t(uint32_t a[4], const uint16_t* M, int ld, int r0, int c0, int lane) {
  int mat = lane >> 3;  // a0: k 0-7 m 0-7, a1: k 0-7 m 8-15, a2: k 8-15 m 0-7, a3: k 8-15 m 8-15
  ldmatrix_x4_trans(a, M + (r0 + (lane & 7) + (mat & 2 ? 8 : 0)) * ld + c0 + (mat & 1 ? 8 : 0));
}
// B[k][n] = M[n0 + n][k0 + k] (M's rows are B's columns): b[0], b[1].
__device__ __forceinline__ void frag_b(uint32_t b[2], const uint16_t* M, int ld, int n0, int k0, int lane) {
  const uint16_t* p = M + (n0 + (lane >> 2)) * ld + k0 + 2 * (lane & 3);
  b[0] = lds32(p);
  b[1] = lds32(p + 8);
}
// Two B fragments, B[k][n] = M[k0 + k][n0 + n] for n in [n0, n0 + 8) -> b[0..1] and
// [n0 + 8, n0 + 16) -> b[2..3] (M's rows are B's rows).
__device__ __forceinline__ void frag_b_t2(uint32_t b[4], const uint16_t* M, int ld, int k0, int n0, int lane) {
  int mat = lane >> 3;  // b0: k 0-7 n 0-7, b1: k 8-15 n 0-7, b2: k 0-7 n 8-15, b3: k 8-15 n 8-15
  ldmatrix_x4_trans(b, M + (k0 + (lane & 7) + (mat & 1 ? 8 : 0)) * ld + n0 + (mat & 2 ? 8 : 0));
}

template <int N>
__device__ __forceinline__ void clear(float (&acc)[N][4]) {
#pragma unroll
  for (int i = 0; i < N; ++i) acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = 0.f;
}

// acc (16 x 64) = rows [r0, r0 + 16) of A times B^T; A and B row-major in shared memory
// with D columns (B has 64 rows).
template <typename T, int D>
__device__ __forceinline__ void mma_rows_by_rows_t(float (&acc)[kTile / 8][4], const uint16_t* A, const uint16_t* B,
                                                   int r0, int lane) {
  clear(acc);
#pragma unroll
  for (int kc = 0; kc < D / 16; ++kc) {
    uint32_t a[4];
    frag_a(a, A, D + 8, r0, kc * 16, lane);
#pragma unroll
    for (int nt = 0; nt < kTile / 8; ++nt) {
      uint32_t b[2];
      frag_b(b, B, D + 8, nt * 8, kc * 16, lane);
      mma<T>(acc[nt], a, b[0], b[1]);
    }
  }
}

// acc (16 x D) += a (an A fragment, 16 x 16) times rows [k0, k0 + 16) of M (row-major, D
// columns, in shared memory).
template <typename T, int D>
__device__ __forceinline__ void mma_by_rows(float (&acc)[D / 8][4], const uint32_t a[4], const uint16_t* M, int k0,
                                            int lane) {
#pragma unroll
  for (int dt = 0; dt < D / 8; dt += 2) {
    uint32_t b[4];
    frag_b_t2(b, M, D + 8, k0, dt * 8, lane);
    mma<T>(acc[dt], a, b[0], b[1]);
    mma<T>(acc[dt + 1], a, b[2], b[3]);
  }
}

// The A fragment of columns [16 kc, 16 kc + 16) of a 16 x 64 accumulator, rounded to T.
template <typename T>
__device__ __forceinline__ void pack_a(uint32_t a[4], const float (&s)[kTile / 8][4], int kc) {
  a[0] = pack2<T>(s[2 * kc][0], s[2 * kc][1]);
  a[1] = pack2<T>(s[2 * kc][2], s[2 * kc][3]);
  a[2] = pack2<T>(s[2 * kc + 1][0], s[2 * kc + 1][1]);
  a[3] = pack2<T>(s[2 * kc + 1][2], s[2 * kc + 1][3]);
}

// Rows of (N, len, H, D) tensors (the BLHD layout of the op) in global memory, any strides
// with dense rows: row i of batch b = n H + h starts at ptr + n sn + h sh + i rs.
struct Operand {
  uint16_t* ptr;
  int64_t sn, sh, rs;
  int H;
  __device__ __forceinline__ int64_t offset(int b, int64_t i) const { return (b / H) * sn + (b % H) * sh + i * rs; }
};

// cp.async: 16 bytes global -> shared without a trip through registers, so the next tile's
// loads overlap this tile's products. src_bytes 0 fills zeros (rows past the end).
__device__ __forceinline__ void cp_async16(uint16_t* dst, const uint16_t* src, bool valid) {
  uint32_t addr = static_cast<uint32_t>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(addr), "l"(src), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int Pending>  // wait until at most Pending committed groups are in flight
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(Pending));
}

// Rows [r0, r0 + 64) of batch b into shared memory (row stride D + 8), zeros past `rows`;
// complete at a cp_async_wait.
template <int D>
__device__ __forceinline__ void load_tile_async(uint16_t* s, const Operand& x, int b, int r0, int rows) {
  constexpr int kChunks = D / 8;
  const uint16_t* base = x.ptr + x.offset(b, r0);
#pragma unroll
  for (int i = threadIdx.x; i < kRows * kChunks; i += kThreads) {
    int r = i / kChunks, c = i % kChunks;
    bool valid = r0 + r < rows;
    cp_async16(s + r * (D + 8) + c * 8, valid ? base + r * x.rs + c * 8 : x.ptr, valid);
  }
}

struct FwdParams {
  Operand q, k, v;
  Operand o;   // (N, L, H, D)
  float* lse;  // (B, L)
  int L, S;
  float scale;
  bool causal;
};

// One key tile of the forward for a warp's 16 rows: scores from the Q fragments in registers
// and K in shared memory, the online-softmax update, and o += P V. Masked is false for tiles
// wholly inside the sequence and (causal) wholly at or below the diagonal: no per-element tests.
template <typename T, int D, bool Masked>
__device__ __forceinline__ void fwd_tile(float (&o)[D / 8][4], float (&mrow)[2], float (&lrow)[2],
                                         const uint32_t (&qf)[D / 16][4], const uint16_t* Ks, const uint16_t* Vs,
                                         int n0, const int (&row)[2], const FwdParams& p, float sl2, int lane) {
  const int t = lane & 3;
  float s[kTile / 8][4];
  clear(s);
#pragma unroll
  for (int kc = 0; kc < D / 16; ++kc)
#pragma unroll
    for (int nt = 0; nt < kTile / 8; ++nt) {
      uint32_t b[2];
      frag_b(b, Ks, D + 8, nt * 8, kc * 16, lane);
      mma<T>(s[nt], qf[kc], b[0], b[1]);
    }
  // Scale to base 2, mask, and the running max of each of the thread's two rows.
  float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
  for (int nt = 0; nt < kTile / 8; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      float x = s[nt][e] * sl2;
      if (Masked) {
        int col = n0 + nt * 8 + 2 * t + (e & 1);
        if (col >= p.S || (p.causal && col > row[e >> 1])) x = -INFINITY;
      }
      s[nt][e] = x;
      mx[e >> 1] = fmaxf(mx[e >> 1], x);
    }
  float alpha[2], base[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
    mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
    float m_new = fmaxf(mrow[r], mx[r]);
    base[r] = m_new == -INFINITY ? 0.f : m_new;  // a row with nothing yet stays at zero
    alpha[r] = exp2f(mrow[r] - base[r]);
    mrow[r] = m_new;
    lrow[r] *= alpha[r];
  }
#pragma unroll
  for (int nt = 0; nt < kTile / 8; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      float pe = exp2f(s[nt][e] - base[e >> 1]);
      s[nt][e] = pe;
      lrow[e >> 1] += pe;
    }
#pragma unroll
  for (int i = 0; i < D / 8; ++i) {
    o[i][0] *= alpha[0];
    o[i][1] *= alpha[0];
    o[i][2] *= alpha[1];
    o[i][3] *= alpha[1];
  }
  // o += P V, P from the score registers, V fragments from shared memory.
#pragma unroll
  for (int kc = 0; kc < kTile / 16; ++kc) {
    uint32_t a[4];
    pack_a<T>(a, s, kc);
    mma_by_rows<T, D>(o, a, Vs, kc * 16, lane);
  }
}

// K and V tiles are double-buffered: tile j + 1 is in flight (cp.async) while tile j is used.
template <typename T, int D>
__global__ void __launch_bounds__(kThreads) flash_fwd_kernel(FwdParams p) {
  constexpr int LD = D + 8;
  extern __shared__ __align__(16) uint16_t smem[];
  uint16_t* Qs = smem;
  uint16_t* KV = Qs + kRows * LD;  // [buffer][K, V] tiles
  const int b = blockIdx.y, m0 = blockIdx.x * kRows;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;

  const int n_end = p.causal ? min(p.S, m0 + kRows) : p.S;
  load_tile_async<D>(Qs, p.q, b, m0, p.L);
  if (n_end > 0) {
    load_tile_async<D>(KV, p.k, b, 0, p.S);
    load_tile_async<D>(KV + kTile * LD, p.v, b, 0, p.S);
  }
  cp_async_commit();
  float o[D / 8][4];
  clear(o);
  float mrow[2] = {-INFINITY, -INFINITY}, lrow[2] = {0.f, 0.f};
  const float sl2 = p.scale * kLog2e;
  const int row[2] = {m0 + warp * 16 + g, m0 + warp * 16 + g + 8};
  uint32_t qf[D / 16][4];

  for (int n0 = 0, j = 0; n0 < n_end; n0 += kTile, ++j) {
    const uint16_t* Ks = KV + (j & 1) * 2 * kTile * LD;
    const uint16_t* Vs = Ks + kTile * LD;
    if (n0 + kTile < n_end) {  // the next tile into the other buffer (free since the last barrier)
      uint16_t* nk = KV + ((j + 1) & 1) * 2 * kTile * LD;
      load_tile_async<D>(nk, p.k, b, n0 + kTile, p.S);
      load_tile_async<D>(nk + kTile * LD, p.v, b, n0 + kTile, p.S);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    if (j == 0) {
#pragma unroll
      for (int kc = 0; kc < D / 16; ++kc) frag_a(qf[kc], Qs, LD, warp * 16, kc * 16, lane);
    }
    const bool masked = n0 + kTile > p.S || (p.causal && n0 + kTile - 1 > m0);
    if (masked) fwd_tile<T, D, true>(o, mrow, lrow, qf, Ks, Vs, n0, row, p, sl2, lane);
    else fwd_tile<T, D, false>(o, mrow, lrow, qf, Ks, Vs, n0, row, p, sl2, lane);
    __syncthreads();  // this buffer is consumed before it is refilled
  }

#pragma unroll
  for (int r = 0; r < 2; ++r) {
    lrow[r] += __shfl_xor_sync(0xffffffffu, lrow[r], 1);
    lrow[r] += __shfl_xor_sync(0xffffffffu, lrow[r], 2);
  }
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    if (row[r] >= p.L) continue;
    float inv = lrow[r] > 0 ? 1.f / lrow[r] : 0.f;
    uint16_t* out = p.o.ptr + p.o.offset(b, row[r]);
#pragma unroll
    for (int i = 0; i < D / 8; ++i)
      *reinterpret_cast<uint32_t*>(out + i * 8 + 2 * t) = pack2<T>(o[i][2 * r] * inv, o[i][2 * r + 1] * inv);
    if (t == 0)
      p.lse[static_cast<int64_t>(b) * p.L + row[r]] = lrow[r] > 0 ? (mrow[r] + log2f(lrow[r])) * kLn2 : -INFINITY;
  }
}

// Dvec[i] = sum_d dout[i][d] o[i][d] (f32), one warp per row.
template <typename T, int D>
__global__ void flash_bwd_dot_kernel(Operand dout, Operand o, int L, int64_t rows, float* dvec) {
  int64_t r = static_cast<int64_t>(blockIdx.x) * (kThreads / 32) + (threadIdx.x >> 5);
  int lane = threadIdx.x & 31;
  if (r >= rows) return;
  int b = static_cast<int>(r / L);
  int64_t i = r % L;
  const T* dp = reinterpret_cast<const T*>(dout.ptr + dout.offset(b, i));
  const T* op = reinterpret_cast<const T*>(o.ptr + o.offset(b, i));
  float acc = 0.f;
#pragma unroll
  for (int d = lane; d < D; d += 32) acc += cvt<float>(dp[d]) * cvt<float>(op[d]);
#pragma unroll
  for (int w = 16; w > 0; w >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, w);
  if (lane == 0) dvec[r] = acc;
}

struct BwdParams {
  Operand q, k, v, dout;
  const float* lse;   // (B, L)
  const float* dvec;  // (B, L)
  float* dq;          // (N, L, H, D) f32 contiguous, summed into (offsets of dq_rows)
  Operand dq_rows;    // the layout of dq (ptr unused)
  Operand dk, dv;     // (N, S, H, D)
  int L, S;
  float scale;
  bool causal;
};

// dst[0] += x, dst[1] += y (8-byte aligned): one vector atomic on sm_90, where dQ's
// atomics are a large part of the backward's time.
__device__ __forceinline__ void add_pair(float* dst, float x, float y) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  atomicAdd(reinterpret_cast<float2*>(dst), make_float2(x, y));
#else
  atomicAdd(dst, x);
  atomicAdd(dst + 1, y);
#endif
}

// One query tile of the backward for a warp's 16 keys (Ks, Vs: the block's keys; Qs, dOs,
// lse_s, dvec_s: the tile's queries). Masked as in fwd_tile.
template <typename T, int D, bool Masked>
__device__ __forceinline__ void bwd_tile(float (&dk)[D / 8][4], float (&dv)[D / 8][4], const uint16_t* Ks,
                                         const uint16_t* Vs, const uint16_t* Qs, const uint16_t* dOs, uint16_t* dSs,
                                         const float* lse_s, const float* dvec_s, int m0, const int (&key)[2],
                                         const BwdParams& p, float sl2, int b) {
  constexpr int LDS = kTile + 8;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  // S^T = K_w Q^T: this warp's 16 keys against the tile's 64 queries.
  float s[kTile / 8][4];
  mma_rows_by_rows_t<T, D>(s, Ks, Qs, warp * 16, lane);
  // P^T = exp(S^T scale - lse[query]), zero where masked or out of range.
#pragma unroll
  for (int nt = 0; nt < kTile / 8; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      int ql = nt * 8 + 2 * t + (e & 1);
      float pe = exp2f(s[nt][e] * sl2 - lse_s[ql]);
      if (Masked) {
        int qi = m0 + ql, kj = key[e >> 1];
        if (!(qi < p.L && kj < p.S && !(p.causal && kj > qi))) pe = 0.f;
      }
      s[nt][e] = pe;
    }
  // dV_w += P^T dO.
#pragma unroll
  for (int kc = 0; kc < kTile / 16; ++kc) {
    uint32_t a[4];
    pack_a<T>(a, s, kc);
    mma_by_rows<T, D>(dv, a, dOs, kc * 16, lane);
  }
  // dP^T = V_w dO^T, then dS^T = P^T (dP^T - Dvec[query]) in place of P^T.
  {
    float dp[kTile / 8][4];
    mma_rows_by_rows_t<T, D>(dp, Vs, dOs, warp * 16, lane);
#pragma unroll
    for (int nt = 0; nt < kTile / 8; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) s[nt][e] *= dp[nt][e] - dvec_s[nt * 8 + 2 * t + (e & 1)];
  }
  // dK_w += dS^T Q (scaled at the end); dS^T to shared memory for dQ.
#pragma unroll
  for (int kc = 0; kc < kTile / 16; ++kc) {
    uint32_t a[4];
    pack_a<T>(a, s, kc);
    uint16_t* row0 = dSs + (warp * 16 + g) * LDS + kc * 16 + 2 * t;
    *reinterpret_cast<uint32_t*>(row0) = a[0];
    *reinterpret_cast<uint32_t*>(row0 + 8 * LDS) = a[1];
    *reinterpret_cast<uint32_t*>(row0 + 8) = a[2];
    *reinterpret_cast<uint32_t*>(row0 + 8 * LDS + 8) = a[3];
    mma_by_rows<T, D>(dk, a, Qs, kc * 16, lane);
  }
  __syncthreads();
  // dQ (this warp's 16 query rows) += dS K over the block's 64 keys, added to global.
  float dq[D / 8][4];
  clear(dq);
#pragma unroll
  for (int kc = 0; kc < kRows / 16; ++kc) {
    uint32_t a[4];
    frag_a_t(a, dSs, LDS, kc * 16, warp * 16, lane);
    mma_by_rows<T, D>(dq, a, Ks, kc * 16, lane);
  }
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    int qi = m0 + warp * 16 + g + 8 * r;
    if (qi >= p.L) continue;
    float* dst = p.dq + p.dq_rows.offset(b, qi) + 2 * t;
#pragma unroll
    for (int i = 0; i < D / 8; ++i) add_pair(dst + i * 8, dq[i][2 * r] * p.scale, dq[i][2 * r + 1] * p.scale);
  }
}

// The query tiles (Q, dO, lse, Dvec) are double-buffered as the forward's key tiles.
template <typename T, int D>
__global__ void __launch_bounds__(kThreads) flash_bwd_kernel(BwdParams p) {
  constexpr int LD = D + 8, LDS = kTile + 8;
  extern __shared__ __align__(16) uint16_t smem[];
  uint16_t* Ks = smem;
  uint16_t* Vs = Ks + kRows * LD;
  uint16_t* QdO = Vs + kRows * LD;           // [buffer][Q, dO] tiles
  uint16_t* dSs = QdO + 4 * kTile * LD;      // dS transposed: (keys, queries)
  float* rows_s = reinterpret_cast<float*>(dSs + kRows * LDS);  // [buffer][lse, Dvec]
  const int b = blockIdx.y, n0 = blockIdx.x * kRows;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2;
  const float sl2 = p.scale * kLog2e;
  const int key[2] = {n0 + warp * 16 + g, n0 + warp * 16 + g + 8};
  const int m_begin = p.causal ? (n0 / kTile) * kTile : 0;  // earlier query rows see none of these keys

  // Query tile m0 into buffer j: Q and dO asynchronously, lse (base 2) and Dvec by plain stores.
  auto stage = [&](int m0, int j) {
    uint16_t* q = QdO + j * 2 * kTile * LD;
    load_tile_async<D>(q, p.q, b, m0, p.L);
    load_tile_async<D>(q + kTile * LD, p.dout, b, m0, p.L);
    float* r = rows_s + j * 2 * kTile;
    for (int i = threadIdx.x; i < kTile; i += kThreads) {
      bool in = m0 + i < p.L;
      r[i] = in ? p.lse[static_cast<int64_t>(b) * p.L + m0 + i] * kLog2e : 0.f;
      r[kTile + i] = in ? p.dvec[static_cast<int64_t>(b) * p.L + m0 + i] : 0.f;
    }
  };
  load_tile_async<D>(Ks, p.k, b, n0, p.S);
  load_tile_async<D>(Vs, p.v, b, n0, p.S);
  if (m_begin < p.L) stage(m_begin, 0);
  cp_async_commit();

  float dk[D / 8][4], dv[D / 8][4];
  clear(dk);
  clear(dv);
  for (int m0 = m_begin, j = 0; m0 < p.L; m0 += kTile, ++j) {
    if (m0 + kTile < p.L) {  // the next tile into the other buffer (free since the last barrier)
      stage(m0 + kTile, (j + 1) & 1);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    const uint16_t* Qs = QdO + (j & 1) * 2 * kTile * LD;
    const float* r = rows_s + (j & 1) * 2 * kTile;
    const bool masked = m0 + kTile > p.L || n0 + kRows > p.S || (p.causal && n0 + kRows - 1 > m0);
    if (masked) bwd_tile<T, D, true>(dk, dv, Ks, Vs, Qs, Qs + kTile * LD, dSs, r, r + kTile, m0, key, p, sl2, b);
    else bwd_tile<T, D, false>(dk, dv, Ks, Vs, Qs, Qs + kTile * LD, dSs, r, r + kTile, m0, key, p, sl2, b);
    __syncthreads();  // buffers and dS consumed before they are refilled
  }

  const int t = lane & 3;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    if (key[r] >= p.S) continue;
    uint16_t* dkp = p.dk.ptr + p.dk.offset(b, key[r]) + 2 * t;
    uint16_t* dvp = p.dv.ptr + p.dv.offset(b, key[r]) + 2 * t;
#pragma unroll
    for (int i = 0; i < D / 8; ++i) {
      *reinterpret_cast<uint32_t*>(dkp + i * 8) = pack2<T>(dk[i][2 * r] * p.scale, dk[i][2 * r + 1] * p.scale);
      *reinterpret_cast<uint32_t*>(dvp + i * 8) = pack2<T>(dv[i][2 * r], dv[i][2 * r + 1]);
    }
  }
}

template <typename T>
__global__ void cast_from_f32_kernel(const float* __restrict__ x, T* __restrict__ y, int64_t n) {
  int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[i] = cvt<T>(x[i]);
}

// The kernels read rows with 16-byte loads: the last dim must be dense, the other strides
// multiples of 8 elements and the data 16-byte aligned; anything else is copied.
Tensor loadable(const Tensor& t) {
  bool ok = t.strides()[3] == 1 && t.strides()[2] % 8 == 0 && t.strides()[1] % 8 == 0 && t.strides()[0] % 8 == 0 &&
            reinterpret_cast<uintptr_t>(t.raw_data()) % 16 == 0;
  if (ok) return t;
  ops::NoInterposers raw;
  return t.contiguous();
}

// t: (N, len, H, D).
Operand operand(const Tensor& t) {
  return {static_cast<uint16_t*>(const_cast<void*>(t.raw_data())), t.strides()[0], t.strides()[2], t.strides()[1],
          static_cast<int>(t.sizes()[2])};
}

// Over 48 KiB of dynamic shared memory must be asked for (per device, so at each launch).
template <typename Kernel>
void allow_smem(Kernel kernel, size_t bytes) {
  if (bytes > 48 * 1024)
    DS_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
}

bool causal_of(const ops::Attrs& a) { return a.get<int64_t>("is_causal", 0) != 0; }

// inputs q (N, L, H, D), k, v (N, S, H, D); outputs o (N, L, H, D), lse (N, H, L) f32.
template <typename T, int D>
void forward(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  Tensor q = loadable(in[0]), k = loadable(in[1]), v = loadable(in[2]);
  int64_t B = q.sizes()[0] * q.sizes()[2], L = q.sizes()[1], S = k.sizes()[1];
  if (B == 0 || L == 0) return;
  FwdParams p{operand(q), operand(k), operand(v), operand(out[0]),
              static_cast<float*>(out[1].raw_data()), static_cast<int>(L), static_cast<int>(S),
              static_cast<float>(a.get<double>("scale")), causal_of(a)};
  size_t smem = static_cast<size_t>(kRows + 4 * kTile) * (D + 8) * sizeof(uint16_t);
  allow_smem(flash_fwd_kernel<T, D>, smem);
  dim3 grid(static_cast<unsigned>((L + kRows - 1) / kRows), static_cast<unsigned>(B));
  flash_fwd_kernel<T, D><<<grid, kThreads, smem, current_stream(q.device().index)>>>(p);
  DS_CUDA_LAUNCH_CHECK();
}

// inputs dout, q, k, v, o (N, L|S, H, D), lse (N, H, L); outputs dq, dk, dv.
template <typename T, int D>
void backward(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  Tensor dout = loadable(in[0]), q = loadable(in[1]), k = loadable(in[2]), v = loadable(in[3]);
  const Tensor& o = in[4];
  int64_t B = q.sizes()[0] * q.sizes()[2], L = q.sizes()[1], S = k.sizes()[1];
  if (B == 0) return;
  cudaStream_t stream = current_stream(q.device().index);
  if (L == 0 || S == 0) {
    for (auto& t : out)
      if (t.numel()) DS_CUDA_CHECK(cudaMemsetAsync(t.raw_data(), 0, t.nbytes(), stream));
    return;
  }
  Tensor dvec = Tensor::empty({B, L}, DType::f32, q.device());
  Tensor dq = Tensor::empty(out[0].sizes(), DType::f32, q.device());
  DS_CUDA_CHECK(cudaMemsetAsync(dq.raw_data(), 0, dq.nbytes(), stream));
  int64_t rows = B * L;
  flash_bwd_dot_kernel<T, D><<<static_cast<unsigned>((rows + 3) / 4), kThreads, 0, stream>>>(
      operand(dout), operand(o), static_cast<int>(L), rows, static_cast<float*>(dvec.raw_data()));
  DS_CUDA_LAUNCH_CHECK();
  BwdParams p{operand(q), operand(k), operand(v), operand(dout), static_cast<const float*>(in[5].raw_data()),
              static_cast<const float*>(dvec.raw_data()), static_cast<float*>(dq.raw_data()), operand(out[0]),
              operand(out[1]), operand(out[2]),
              static_cast<int>(L), static_cast<int>(S), static_cast<float>(a.get<double>("scale")), causal_of(a)};
  size_t smem = static_cast<size_t>(kRows * 2 + kTile * 4) * (D + 8) * sizeof(uint16_t) +
                static_cast<size_t>(kRows) * (kTile + 8) * sizeof(uint16_t) + 4 * kTile * sizeof(float);
  allow_smem(flash_bwd_kernel<T, D>, smem);
  dim3 grid(static_cast<unsigned>((S + kRows - 1) / kRows), static_cast<unsigned>(B));
  flash_bwd_kernel<T, D><<<grid, kThreads, smem, stream>>>(p);
  DS_CUDA_LAUNCH_CHECK();
  int64_t n = dq.numel();
  cast_from_f32_kernel<T><<<blocks_for(n, 256), 256, 0, stream>>>(static_cast<const float*>(dq.raw_data()),
                                                                   static_cast<T*>(out[0].raw_data()), n);
  DS_CUDA_LAUNCH_CHECK();
}

// Picks the instantiation for (dtype, head size); the op definitions only send f16/bf16 with
// head size 64 or 128.
template <template <typename, int> class Fn>
void by_type_and_size(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a, DType t, int64_t d) {
  if (t == DType::bf16 && d == 64) return Fn<__nv_bfloat16, 64>::run(in, out, a);
  if (t == DType::bf16 && d == 128) return Fn<__nv_bfloat16, 128>::run(in, out, a);
  if (t == DType::f16 && d == 64) return Fn<__half, 64>::run(in, out, a);
  if (t == DType::f16 && d == 128) return Fn<__half, 128>::run(in, out, a);
  DS_THROW("[flash_attention] supports f16/bf16 with head size 64 or 128, got ", dtype_name(t), " and ", d);
}
template <typename T, int D>
struct Forward {
  static void run(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) { forward<T, D>(in, out, a); }
};
template <typename T, int D>
struct Backward {
  static void run(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) { backward<T, D>(in, out, a); }
};

void flash_forward(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  by_type_and_size<Forward>(in, out, a, in[0].dtype(), in[0].sizes()[3]);
}
void flash_backward(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  by_type_and_size<Backward>(in, out, a, in[1].dtype(), in[1].sizes()[3]);
}

void register_flash_attention() {
  register_cuda_kernel("flash_attention", flash_forward);
  register_cuda_kernel("flash_attention_backward", flash_backward);
}

}  // namespace
}  // namespace deepseek::cuda

DS_REGISTER(deepseek::cuda::register_flash_attention);
