// CUDA kernels of attention_probs and attention_probs_backward (see
// backend/attention_probs.h): one warp per row, each lane taking runs of four consecutive
// keys, so one Philox block serves a lane's four dropout draws. Forward: max, sum of exp and
// write in three passes over the row (cached in L1); backward: one pass.
#include "deepseek/backend/attention_probs.h"
#include "deepseek/backend/cuda/device/loops.cuh"
#include "deepseek/backend/cuda/device/reduce.cuh"

namespace deepseek::cuda {
namespace {

constexpr int kRowsPerBlock = 8;  // warps

__global__ void __launch_bounds__(kRowsPerBlock * 32) probs_kernel(const float* __restrict__ s,
                                                                   float* __restrict__ probs, float* __restrict__ lse,
                                                                   AttentionProbsParams p) {
  const int lane = threadIdx.x & 31;
  const int64_t r = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + (threadIdx.x >> 5);
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
                          const float* __restrict__ dvec, float* __restrict__ pd, float* __restrict__ ds,
                          AttentionProbsParams p) {
  const int lane = threadIdx.x & 31;
  const int64_t r = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + (threadIdx.x >> 5);
  if (r >= p.rows) return;
  const int64_t i = r % p.L, o = r * p.S;
  const float l = lse[r], d = dvec[r];
  DropoutDraw draw(p);
  for (int64_t j0 = 4 * lane; j0 < p.S; j0 += 128)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      int64_t j = j0 + e;
      if (j >= p.S) break;
      float pe = expf(attention_score(s[o + j], p, i, j) - l);
      float f = draw.factor(static_cast<uint64_t>(o + j));
      pd[o + j] = pe * f;
      ds[o + j] = pe * (dp[o + j] * f - d) * p.scale;
    }
}

unsigned row_blocks(int64_t rows) { return static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock); }

void probs(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const AttentionProbsParams p = attention_probs_params(in[0], a);
  if (p.rows == 0 || p.S == 0) return;
  DeviceGuard g(in[0].device().index);
  probs_kernel<<<row_blocks(p.rows), kRowsPerBlock * 32, 0, current_stream()>>>(
      static_cast<const float*>(in[0].raw_data()), static_cast<float*>(out[0].raw_data()),
      static_cast<float*>(out[1].raw_data()), p);
  DS_CUDA_LAUNCH_CHECK();
}

void probs_backward(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const AttentionProbsParams p = attention_probs_params(in[0], a);
  if (p.rows == 0 || p.S == 0) return;
  DeviceGuard g(in[0].device().index);
  probs_backward_kernel<<<row_blocks(p.rows), kRowsPerBlock * 32, 0, current_stream()>>>(
      static_cast<const float*>(in[0].raw_data()), static_cast<const float*>(in[1].raw_data()),
      static_cast<const float*>(in[2].raw_data()), static_cast<const float*>(in[3].raw_data()),
      static_cast<float*>(out[0].raw_data()), static_cast<float*>(out[1].raw_data()), p);
  DS_CUDA_LAUNCH_CHECK();
}

void register_attention_probs() {
  register_cuda_kernel("attention_probs", probs);
  register_cuda_kernel("attention_probs_backward", probs_backward);
}

}  // namespace
}  // namespace deepseek::cuda

DS_REGISTER(deepseek::cuda::register_attention_probs);
