// Fused batch_norm backward (the `batch_norm_backward` op): per-channel sums S1 = sum(g) and
// S2 = rstd sum(g (x - mean)) over (N, *), split over blocks and added in a fixed order
// (deterministic), then dx = g w rstd + (x - mean) k2 + k3 in one pass. x and g are contiguous
// (N, C, S) here, channels_last in bn_channels_last.cu; statistics are f32 (f64 for f64 inputs).
#include "deepseek/backend/cuda/bn_channels_last.h"
#include "deepseek/backend/cuda/device/loops.cuh"

namespace deepseek::cuda {
namespace {

constexpr int kBlock = 256;

template <typename A>
__device__ A block_sum(A v, A* shared) {
  int t = threadIdx.x;
  shared[t] = v;
  __syncthreads();
  for (int w = kBlock / 2; w > 0; w >>= 1) {
    if (t < w) shared[t] += shared[t + w];
    __syncthreads();
  }
  A r = shared[0];
  __syncthreads();
  return r;
}

// Block (c, split) sums its share of channel c's N*S values.
template <typename T, typename A>
__global__ void bn_bwd_partial(const T* __restrict__ g, const T* __restrict__ x, const A* __restrict__ mean,
                               uint32_t C, FastDivider S, uint32_t per_channel, uint32_t chunk,
                               A* __restrict__ part1, A* __restrict__ part2) {
  __shared__ A shared[kBlock];
  uint32_t c = blockIdx.x, split = blockIdx.y;
  uint32_t begin = split * chunk, end = min(per_channel, begin + chunk);
  A m = mean[c], s1 = 0, s2 = 0;
  for (uint32_t j = begin + threadIdx.x; j < end; j += kBlock) {
    uint32_t n = S.div(j);
    uint32_t s = j - n * S.divisor;
    int64_t off = (static_cast<int64_t>(n) * C + c) * S.divisor + s;
    A gv = cvt<A>(g[off]);
    s1 += gv;
    s2 += gv * (cvt<A>(x[off]) - m);
  }
  s1 = block_sum(s1, shared);
  s2 = block_sum(s2, shared);
  if (threadIdx.x == 0) {
    part1[c * gridDim.y + split] = s1;
    part2[c * gridDim.y + split] = s2;
  }
}

template <typename T, typename A>
__global__ void bn_bwd_dx(const T* __restrict__ g, const T* __restrict__ x, const A* __restrict__ mean,
                          const A* __restrict__ coef, uint32_t C, FastDivider S, FastDivider Cdiv, uint32_t total,
                          T* __restrict__ dx) {
  uint32_t stride = gridDim.x * blockDim.x;
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
    uint32_t q = S.div(i);
    uint32_t c = q - Cdiv.div(q) * C;
    A v = cvt<A>(g[i]) * coef[c] + (cvt<A>(x[i]) - mean[c]) * coef[C + c] + coef[2 * C + c];
    dx[i] = cvt<T>(v);
  }
}

template <typename T, typename A>
void run(const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  const Tensor &g = in[0], &x = in[1], &w = in[2], &mean = in[3], &rstd = in[4];
  int64_t N = x.sizes()[0], C = x.sizes()[1];
  int64_t S = x.numel() / std::max<int64_t>(N * C, 1);
  int64_t per_channel = N * S;
  DS_CHECK(x.numel() < (int64_t{1} << 31), "[batch_norm_backward] inputs of 2^31 elements or more are not supported on CUDA");
  cudaStream_t stream = current_stream(x.device().index);
  if (x.numel() == 0 || C == 0) {
    for (auto& o : out)
      if (o.numel()) DS_CUDA_CHECK(cudaMemsetAsync(o.raw_data(), 0, o.nbytes(), stream));
    return;
  }
  int64_t splits = std::max<int64_t>(1, std::min<int64_t>(per_channel / 1024, std::max<int64_t>(1, 1024 / C)));
  splits = std::min<int64_t>(splits, 65535);
  uint32_t chunk = static_cast<uint32_t>((per_channel + splits - 1) / splits);
  DType acc = mean.dtype();
  Tensor part = Tensor::empty({2, C * splits}, acc, x.device());
  Tensor coef = Tensor::empty({3, C}, acc, x.device());
  A* p1 = static_cast<A*>(part.raw_data());
  A* p2 = p1 + C * splits;
  FastDivider Sd(static_cast<uint32_t>(S)), Cd(static_cast<uint32_t>(C));
  bn_bwd_partial<T, A><<<dim3(static_cast<unsigned>(C), static_cast<unsigned>(splits)), kBlock, 0, stream>>>(
      static_cast<const T*>(g.raw_data()), static_cast<const T*>(x.raw_data()), static_cast<const A*>(mean.raw_data()),
      static_cast<uint32_t>(C), Sd, static_cast<uint32_t>(per_channel), chunk, p1, p2);
  DS_CUDA_LAUNCH_CHECK();
  bn_backward_finish(x.dtype(), p1, p2, static_cast<int>(splits), splits, 1, w.raw_data(), rstd.raw_data(),
                     per_channel, C, out[1].raw_data(), out[2].raw_data(), coef.raw_data(), stream);
  uint32_t total = static_cast<uint32_t>(x.numel());
  bn_bwd_dx<T, A><<<blocks_for(total, kThreads), kThreads, 0, stream>>>(
      static_cast<const T*>(g.raw_data()), static_cast<const T*>(x.raw_data()), static_cast<const A*>(mean.raw_data()),
      static_cast<const A*>(coef.raw_data()), static_cast<uint32_t>(C), Sd, Cd, total, static_cast<T*>(out[0].raw_data()));
  DS_CUDA_LAUNCH_CHECK();
}

void bn_backward(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs&) {
  if (is_nhwc(in[1])) return batch_norm_backward_nhwc(in, out);
  switch (in[1].dtype()) {
    case DType::f32: return run<float, float>(in, out);
    case DType::f64: return run<double, double>(in, out);
    case DType::f16: return run<__half, float>(in, out);
    case DType::bf16: return run<__nv_bfloat16, float>(in, out);
    default: DS_THROW("[batch_norm_backward] expects a floating-point input, got ", dtype_name(in[1].dtype()));
  }
}

void register_bn_backward() { register_cuda_kernel("batch_norm_backward", bn_backward); }

}  // namespace
}  // namespace deepseek::cuda

DS_REGISTER(deepseek::cuda::register_bn_backward);
