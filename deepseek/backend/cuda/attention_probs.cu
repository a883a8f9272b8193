// CUDA kernels of attention_probs, attention_probs_backward and tf32_split (see
// backend/attention_probs.h): one warp per row, each lane taking runs of four consecutive
// keys, so one Philox block serves a lane's four dropout draws. Rows whose length is a multiple
// of 4 move as float4 (one Philox block per run) with fast exp; forward rows up to 1024 keys
// stay in registers (one read, one write, one exp per element),
// longer ones take three passes (max, sum of exp, write); the backward is one pass. tf32_split
// is elementwise.
#include "deepseek/backend/attention_probs.h"
#include "deepseek/backend/cuda/device/loops.cuh"
#include "deepseek/backend/cuda/device/reduce.cuh"

namespace deepseek::cuda {
namespace {

constexpr int kRowsPerBlock = 8;  // warps
constexpr int kGroups = 8;        // register path: up to 8 runs of 4 per lane, rows up to 1024

// The row of this thread's warp: one warp per row, kRowsPerBlock rows per block.
__device__ __forceinline__ int64_t warp_row() {
  return static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + (threadIdx.x >> 5);
}

// Rows of S <= 1024 keys, S a multiple of 4: each lane loads its runs of four with one vector
// load each and keeps them in registers, so the row is read once and written once.
__global__ void __launch_bounds__(kRowsPerBlock * 32) probs_kernel_regs(const float* __restrict__ s,
                                                                        float* __restrict__ probs,
                                                                        float* __restrict__ lse, AttentionProbsParams p) {
  const int lane = threadIdx.x & 31;
  const int64_t r = warp_row();
  if (r >= p.rows) return;
  const int64_t i = r % p.L;
  const float4* x = reinterpret_cast<const float4*>(s + r * p.S);
  float v[kGroups][4];
  float m = -INFINITY;
#pragma unroll
  for (int g = 0; g < kGroups; ++g) {
    const int j0 = 4 * lane + 128 * g;
    float4 t = j0 < p.S ? x[j0 / 4] : make_float4(-INFINITY, -INFINITY, -INFINITY, -INFINITY);
    float raw[4] = {t.x, t.y, t.z, t.w};
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      v[g][e] = j0 < p.S ? attention_score(raw[e], p, i, j0 + e) : -INFINITY;
      m = fmaxf(m, v[g][e]);
    }
  }
  m = warp_allreduce(m, MaxSkipNanOp{});
  const float base = m == -INFINITY ? 0.f : m;
  // Each exp once (kept in place of the score), fast exp; the kernel is bound by arithmetic
  // (exp and the Philox rounds), not by memory.
  float sum = 0.f;
#pragma unroll
  for (int g = 0; g < kGroups; ++g)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      v[g][e] = __expf(v[g][e] - base);
      sum += v[g][e];
    }
  sum = warp_allreduce(sum, SumOp{});
  const float l = base + logf(sum), inv = 1.f / sum;
  const DropoutDraw draw(p);
  float4* y = reinterpret_cast<float4*>(probs + r * p.S);
#pragma unroll
  for (int g = 0; g < kGroups; ++g) {
    const int j0 = 4 * lane + 128 * g;
    if (j0 >= p.S) break;
    float f[4];
    draw.factors4(static_cast<uint64_t>(r * p.S + j0), f);
    y[j0 / 4] = make_float4(v[g][0] * inv * f[0], v[g][1] * inv * f[1], v[g][2] * inv * f[2], v[g][3] * inv * f[3]);
  }
  if (lane == 0) lse[r] = l;
}

// The backward. D_i = sum_j pd_ij dp_ij (= dO_i . O_i) comes from the row itself: rows of up
// to 1024 keys (S a multiple of 4) keep P in registers and the dropout mask as bits between
// the sum and the write (dp is read again, from cache), so s is read once and Philox runs
// once; longer rows recompute both.
__global__ void __launch_bounds__(kRowsPerBlock * 32)
    probs_backward_kernel_regs(const float* __restrict__ s, const float* __restrict__ dp, const float* __restrict__ lse,
                               float* __restrict__ pd, float* __restrict__ ds, AttentionProbsParams p) {
  const int lane = threadIdx.x & 31;
  const int64_t r = warp_row();
  if (r >= p.rows) return;
  const int64_t i = r % p.L, o = r * p.S;
  const float l = lse[r];
  const DropoutDraw draw(p);
  float pe[kGroups][4];
  uint32_t kept = 0;  // bit 4g + e: element (g, e) kept by dropout
  float d = 0.f;
#pragma unroll
  for (int g = 0; g < kGroups; ++g) {
    const int j0 = 4 * lane + 128 * g;
    if (j0 >= p.S) break;
    const float4 sv = *reinterpret_cast<const float4*>(s + o + j0), gv = *reinterpret_cast<const float4*>(dp + o + j0);
    const float sr[4] = {sv.x, sv.y, sv.z, sv.w}, gr[4] = {gv.x, gv.y, gv.z, gv.w};
    float f[4], a[4];
    draw.factors4(static_cast<uint64_t>(o + j0), f);
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      pe[g][e] = __expf(attention_score(sr[e], p, i, j0 + e) - l);
      if (f[e] != 0.f) kept |= 1u << (4 * g + e);
      a[e] = pe[g][e] * f[e];
      d += a[e] * gr[e];
    }
    *reinterpret_cast<float4*>(pd + o + j0) = make_float4(a[0], a[1], a[2], a[3]);
  }
  d = warp_allreduce(d, SumOp{});
  const float keep = p.p > 0.f ? p.keep_scale : 1.f;
#pragma unroll
  for (int g = 0; g < kGroups; ++g) {
    const int j0 = 4 * lane + 128 * g;
    if (j0 >= p.S) break;
    const float4 gv = *reinterpret_cast<const float4*>(dp + o + j0);
    const float gr[4] = {gv.x, gv.y, gv.z, gv.w};
    float b[4];
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const float f = (kept >> (4 * g + e)) & 1u ? keep : 0.f;
      b[e] = pe[g][e] * (gr[e] * f - d) * p.scale;
    }
    *reinterpret_cast<float4*>(ds + o + j0) = make_float4(b[0], b[1], b[2], b[3]);
  }
}

__global__ void __launch_bounds__(kRowsPerBlock * 32) probs_kernel(const float* __restrict__ s,
                                                                   float* __restrict__ probs, float* __restrict__ lse,
                                                                   AttentionProbsParams p) {
  const int lane = threadIdx.x & 31;
  const int64_t r = warp_row();
  if (r >= p.rows) return;
  const int64_t i = r % p.L;
  const float* x = s + r * p.S;
  float m = -INFINITY;
  for (int64_t j0 = 4 * lane; j0 < p.S; j0 += 128)
#pragma unroll
    for (int e = 0; e < 4; ++e)
      if (j0 + e < p.S) m = fmaxf(m, attention_score(x[j0 + e], p, i, j0 + e));
  m = warp_allreduce(m, MaxSkipNanOp{});
  const float base = m == -INFINITY ? 0.f : m;
  float sum = 0.f;
  for (int64_t j0 = 4 * lane; j0 < p.S; j0 += 128)
#pragma unroll
    for (int e = 0; e < 4; ++e)
      if (j0 + e < p.S) sum += expf(attention_score(x[j0 + e], p, i, j0 + e) - base);
  sum = warp_allreduce(sum, SumOp{});
  const float l = base + logf(sum);
  DropoutDraw draw(p);
  float* y = probs + r * p.S;
  for (int64_t j0 = 4 * lane; j0 < p.S; j0 += 128)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      int64_t j = j0 + e;
      if (j < p.S) y[j] = expf(attention_score(x[j], p, i, j) - l) * draw.factor(static_cast<uint64_t>(r * p.S + j));
    }
  if (lane == 0) lse[r] = l;
}

__global__ void __launch_bounds__(kRowsPerBlock * 32)
    probs_backward_kernel(const float* __restrict__ s, const float* __restrict__ dp, const float* __restrict__ lse,
                          float* __restrict__ pd, float* __restrict__ ds, AttentionProbsParams p) {
  const int lane = threadIdx.x & 31;
  const int64_t r = warp_row();
  if (r >= p.rows) return;
  const int64_t i = r % p.L, o = r * p.S;
  const float l = lse[r];
  DropoutDraw draw(p);
  float d = 0.f;
  for (int64_t j = lane; j < p.S; j += 32)
    d += __expf(attention_score(s[o + j], p, i, j) - l) * dp[o + j] * draw.factor(static_cast<uint64_t>(o + j));
  d = warp_allreduce(d, SumOp{});
  for (int64_t j = lane; j < p.S; j += 32) {
    const float pe = __expf(attention_score(s[o + j], p, i, j) - l);
    const float f = draw.factor(static_cast<uint64_t>(o + j));
    pd[o + j] = pe * f;
    ds[o + j] = pe * (dp[o + j] * f - d) * p.scale;
  }
}

// One thread per four consecutive elements of a row (E a multiple of 4, 32-bit indices): a
// float4 load and three float4 stores, one per output segment; the general kernel takes one
// element per thread.
__global__ void tf32_split_vec_kernel(const float4* __restrict__ x, float4* __restrict__ y, uint32_t n4, uint32_t e4,
                                      Tf32SplitParams p) {
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += gridDim.x * blockDim.x) {
    const uint32_t r = i / e4, j = i - r * e4;
    const float4 v = x[i];
    float4 part[2];
    tf32_split_value(v.x, part[0].x, part[1].x);
    tf32_split_value(v.y, part[0].y, part[1].y);
    tf32_split_value(v.z, part[0].z, part[1].z);
    tf32_split_value(v.w, part[0].w, part[1].w);
#pragma unroll
    for (int k = 0; k < 3; ++k) y[(3 * r + k) * e4 + j] = part[p.pattern[k]];
  }
}

__global__ void tf32_split_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t n, Tf32SplitParams p) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const int64_t r = i / p.E, j = i - r * p.E;
    float part[2];
    tf32_split_value(x[i], part[0], part[1]);
#pragma unroll
    for (int k = 0; k < 3; ++k) y[(3 * r + k) * p.E + j] = part[p.pattern[k]];
  }
}

unsigned row_blocks(int64_t rows) { return static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock); }

void probs(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const AttentionProbsParams p = attention_probs_params(in[0], a);
  if (p.rows == 0 || p.S == 0) return;
  DeviceGuard g(in[0].device().index);
  auto kernel = p.S % 4 == 0 && p.S <= 128 * kGroups ? probs_kernel_regs : probs_kernel;
  kernel<<<row_blocks(p.rows), kRowsPerBlock * 32, 0, current_stream()>>>(
      static_cast<const float*>(in[0].raw_data()), static_cast<float*>(out[0].raw_data()),
      static_cast<float*>(out[1].raw_data()), p);
  DS_CUDA_LAUNCH_CHECK();
}

void probs_backward(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const AttentionProbsParams p = attention_probs_params(in[0], a);
  if (p.rows == 0 || p.S == 0) return;
  DeviceGuard g(in[0].device().index);
  auto kernel = p.S % 4 == 0 && p.S <= 128 * kGroups ? probs_backward_kernel_regs : probs_backward_kernel;
  kernel<<<row_blocks(p.rows), kRowsPerBlock * 32, 0, current_stream()>>>(
      static_cast<const float*>(in[0].raw_data()), static_cast<const float*>(in[1].raw_data()),
      static_cast<const float*>(in[2].raw_data()), static_cast<float*>(out[0].raw_data()),
      static_cast<float*>(out[1].raw_data()), p);
  DS_CUDA_LAUNCH_CHECK();
}

void tf32_split(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tf32SplitParams p = tf32_split_params(in[0], a);
  const int64_t n = p.rows * p.E;
  if (n == 0) return;
  DeviceGuard g(in[0].device().index);
  const void* x = in[0].raw_data();
  void* y = out[0].raw_data();
  const bool aligned = reinterpret_cast<uintptr_t>(x) % 16 == 0 && reinterpret_cast<uintptr_t>(y) % 16 == 0;
  if (p.E % 4 == 0 && aligned && n < (int64_t{1} << 31)) {
    const auto n4 = static_cast<uint32_t>(n / 4);
    tf32_split_vec_kernel<<<blocks_for(n4, 256), 256, 0, current_stream()>>>(
        static_cast<const float4*>(x), static_cast<float4*>(y), n4, static_cast<uint32_t>(p.E / 4), p);
  } else {
    tf32_split_kernel<<<blocks_for(n, 256), 256, 0, current_stream()>>>(static_cast<const float*>(x),
                                                                        static_cast<float*>(y), n, p);
  }
  DS_CUDA_LAUNCH_CHECK();
}

void register_attention_probs() {
  register_cuda_kernel("attention_probs", probs);
  register_cuda_kernel("attention_probs_backward", probs_backward);
  register_cuda_kernel("tf32_split", tf32_split);
}

}  // namespace
}  // namespace deepseek::cuda

DS_REGISTER(deepseek::cuda::register_attention_probs);
