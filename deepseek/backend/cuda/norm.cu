// Normalization kernels on CUDA, the counterparts of backend/cpu/vec/norm.cpp (same outputs:
// y plus the statistics backward needs, in f32 for f16/bf16 inputs). Statistics are two-pass
// (mean, then the sum of squared deviations), each a block reduction in a fixed order, so the
// results are deterministic. The op definitions make x and the parameters contiguous, except
// that batch_norm keeps a channels_last x (bn_channels_last.cu).
//  - layer_norm / rms_norm: one block per row of the normalized size N;
//  - their backward: dx one block per row; dw/db summed over rows in column blocks, split over
//    row ranges and the splits merged in order by a second kernel;
//  - group_norm: one block per (sample, group);
//  - batch_norm: per-channel sums split over (channel, range) blocks and merged in order; the
//    running-statistics update is done by the public function with in-place ops.
#include <cmath>

#include "deepseek/backend/cuda/bn_channels_last.h"
#include "deepseek/backend/cuda/device/loops.cuh"
#include "deepseek/backend/cuda/device/reduce.cuh"

namespace deepseek::cuda {
namespace {

int row_threads(int64_t n) {
  int64_t t = next_pow2(std::max<int64_t>((n + 3) / 4, 32));
  return static_cast<int>(std::min<int64_t>(t, 512));
}

// (N, C, S) sizes of a contiguous (N, C, *) input with a contiguous output.
struct NCS {
  int64_t n, c, s;
};
NCS ncs_of(const Tensor& x, const Tensor& y, const char* op) {
  DS_CHECK(x.is_contiguous() && y.is_contiguous(), "[", op, "] CUDA kernel expects contiguous tensors");
  int64_t n = x.sizes()[0], c = x.sizes()[1];
  return {n, c, c == 0 || n == 0 ? 0 : x.numel() / (n * c)};
}

// y = x * scale + shift with scale = rstd * w, shift = b - mean * scale (as the CPU kernels).
template <typename T, typename V>
__device__ __forceinline__ T channel_affine(T x, V mean, V rstd, T w, T b) {
  const V scale = rstd * cvt<V>(w);
  const V shift = cvt<V>(b) - mean * scale;
  return cvt<T>(cvt<V>(x) * scale + shift);
}

unsigned grid_rows(int64_t rows) { return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(rows, 1 << 20))); }

// --- layer_norm / rms_norm forward ----------------------------------------------------------------
template <typename T, bool Center>
__global__ void __launch_bounds__(512) norm_fwd_kernel(const T* __restrict__ x, const T* __restrict__ w,
                                                      const T* __restrict__ b, T* __restrict__ y,
                                                      opmath<T>* __restrict__ mean_out,
                                                      opmath<T>* __restrict__ rstd_out, int64_t rows, int64_t n,
                                                      double eps) {
  using V = opmath<T>;
  __shared__ V smem[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* p = x + r * n;
    T* q = y + r * n;
    V mu = 0;
    if constexpr (Center) {
      V s = 0;
      for (int64_t j = threadIdx.x; j < n; j += blockDim.x) s += cvt<V>(p[j]);
      mu = block_allreduce(s, SumOp{}, smem) / static_cast<V>(n);
    }
    V ss = 0;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      V dv = cvt<V>(p[j]) - mu;
      ss += dv * dv;
    }
    ss = block_allreduce(ss, SumOp{}, smem);
    V rs = V(1) / sqrt(ss / static_cast<V>(n) + static_cast<V>(eps));
    if (threadIdx.x == 0) {
      if constexpr (Center) mean_out[r] = mu;
      rstd_out[r] = rs;
    }
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      if constexpr (Center) q[j] = cvt<T>((cvt<V>(p[j]) - mu) * rs * cvt<V>(w[j]) + cvt<V>(b[j]));
      else q[j] = cvt<T>(cvt<V>(p[j]) * rs * cvt<V>(w[j]));
    }
  }
}

template <bool Center>
void norm_fwd(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const char* op = Center ? "layer_norm" : "rms_norm";
  const Tensor& x = in[0];
  DeviceGuard g(x.device().index);
  DS_CHECK(x.is_contiguous() && out[0].is_contiguous(), "[", op, "] CUDA kernel expects contiguous tensors");
  int64_t k = a.get<int64_t>("normalized_ndim");
  double eps = a.get<double>("eps");
  int64_t n = 1;
  for (int64_t i = x.dim() - k; i < x.dim(); ++i) n *= x.sizes()[i];
  int64_t m = n == 0 ? 0 : x.numel() / n;
  cudaStream_t stream = current_stream();
  Tensor& mean_t = out[1];
  Tensor& rstd_t = out[Center ? 2 : 1];
  if (n == 0) {  // statistics of empty rows are 0, as on the CPU
    if (Center && mean_t.numel() > 0) DS_CUDA_CHECK(cudaMemsetAsync(mean_t.raw_data(), 0, mean_t.nbytes(), stream));
    if (rstd_t.numel() > 0) DS_CUDA_CHECK(cudaMemsetAsync(rstd_t.raw_data(), 0, rstd_t.nbytes(), stream));
    return;
  }
  if (m == 0) return;
  visit_cuda_floating(x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using V = opmath<T>;
    norm_fwd_kernel<T, Center><<<grid_rows(m), row_threads(n), 0, stream>>>(
        static_cast<const T*>(x.raw_data()), static_cast<const T*>(in[1].raw_data()),
        Center ? static_cast<const T*>(in[2].raw_data()) : nullptr, static_cast<T*>(out[0].raw_data()),
        Center ? static_cast<V*>(mean_t.raw_data()) : nullptr, static_cast<V*>(rstd_t.raw_data()), m, n, eps);
    DS_CUDA_LAUNCH_CHECK();
  });
}

// --- layer_norm / rms_norm backward -----------------------------------------------------------------
// dx = rstd * (gw - [mean(gw)] - xhat * mean(gw * xhat)), gw = g * w.
template <typename T, bool Center>
__global__ void __launch_bounds__(512) norm_bwd_dx_kernel(const T* __restrict__ g, const T* __restrict__ x,
                                                         const opmath<T>* __restrict__ mean,
                                                         const opmath<T>* __restrict__ rstd,
                                                         const T* __restrict__ w, T* __restrict__ dx, int64_t rows,
                                                         int64_t n) {
  using V = opmath<T>;
  __shared__ V smem[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* gr = g + r * n;
    const T* xr = x + r * n;
    T* d = dx + r * n;
    const V mu = Center ? mean[r] : V(0), rs = rstd[r];
    V s1 = 0, s2 = 0;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      V gw = cvt<V>(gr[j]) * cvt<V>(w[j]);
      V xh = (cvt<V>(xr[j]) - mu) * rs;
      s1 += gw;
      s2 += gw * xh;
    }
    if constexpr (Center) s1 = block_allreduce(s1, SumOp{}, smem);
    s2 = block_allreduce(s2, SumOp{}, smem);
    const V m1 = Center ? s1 / static_cast<V>(n) : V(0), m2 = s2 / static_cast<V>(n);
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      V gw = cvt<V>(gr[j]) * cvt<V>(w[j]);
      V xh = (cvt<V>(xr[j]) - mu) * rs;
      d[j] = cvt<T>(rs * (gw - m1 - xh * m2));
    }
  }
}

constexpr int kColX = 32, kColY = 8;

// Partial dw (sum g * xhat) and db (sum g) over rows [split * per, ...) for 32 columns per
// block: threads along y walk the rows, then a shared-memory tree.
template <typename T, bool Center>
__global__ void __launch_bounds__(kColX * kColY) norm_bwd_dwdb_kernel(
    const T* __restrict__ g, const T* __restrict__ x, const opmath<T>* __restrict__ mean,
    const opmath<T>* __restrict__ rstd, opmath<T>* __restrict__ part_w, opmath<T>* __restrict__ part_b,
    int64_t rows, int64_t n, int64_t per) {
  using V = opmath<T>;
  __shared__ V sw[kColY][kColX];
  __shared__ V sb[kColY][kColX];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * per;
  const int64_t r1 = r0 + per < rows ? r0 + per : rows;
  const int64_t ncb = (n + kColX - 1) / kColX;
  for (int64_t cb = blockIdx.x; cb < ncb; cb += gridDim.x) {
    const int64_t j = cb * kColX + tx;
    V aw = 0, ab = 0;
    if (j < n) {
      for (int64_t r = r0 + ty; r < r1; r += kColY) {
        V gj = cvt<V>(g[r * n + j]);
        V xh = (cvt<V>(x[r * n + j]) - (Center ? mean[r] : V(0))) * rstd[r];
        aw += gj * xh;
        ab += gj;
      }
    }
    sw[ty][tx] = aw;
    sb[ty][tx] = ab;
    __syncthreads();
    for (int s = kColY / 2; s > 0; s >>= 1) {
      if (ty < s) {
        sw[ty][tx] += sw[ty + s][tx];
        sb[ty][tx] += sb[ty + s][tx];
      }
      __syncthreads();
    }
    if (ty == 0 && j < n) {
      part_w[static_cast<int64_t>(blockIdx.y) * n + j] = sw[0][tx];
      if (Center) part_b[static_cast<int64_t>(blockIdx.y) * n + j] = sb[0][tx];
    }
    __syncthreads();
  }
}

template <typename T>
__global__ void merge_columns_kernel(const opmath<T>* __restrict__ part, T* __restrict__ out, int64_t n, int splits) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; j < n; j += stride) {
    opmath<T> s = part[j];
    for (int k = 1; k < splits; ++k) s += part[static_cast<int64_t>(k) * n + j];
    out[j] = cvt<T>(s);
  }
}

template <bool Center>
void norm_bwd(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const char* op = Center ? "layer_norm_backward" : "rms_norm_backward";
  const Tensor& x = in[1];
  DeviceGuard guard(x.device().index);
  for (const Tensor* t : std::initializer_list<const Tensor*>{&in[0], &in[1], &out[0], &out[1]})
    DS_CHECK(t->is_contiguous(), "[", op, "] CUDA kernel expects contiguous tensors");
  int64_t k = a.get<int64_t>("normalized_ndim");
  int64_t n = 1;
  for (int64_t i = x.dim() - k; i < x.dim(); ++i) n *= x.sizes()[i];
  int64_t m = n == 0 ? 0 : x.numel() / n;
  if (n == 0) return;
  const int w_in = Center ? 4 : 3;
  cudaStream_t stream = current_stream();
  visit_cuda_floating(x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using V = opmath<T>;
    const T* gp = static_cast<const T*>(in[0].raw_data());
    const T* xp = static_cast<const T*>(x.raw_data());
    const V* mean = Center ? static_cast<const V*>(in[2].raw_data()) : nullptr;
    const V* rstd = static_cast<const V*>(in[Center ? 3 : 2].raw_data());
    const T* w = static_cast<const T*>(in[w_in].raw_data());
    if (m > 0) {
      norm_bwd_dx_kernel<T, Center><<<grid_rows(m), row_threads(n), 0, stream>>>(
          gp, xp, mean, rstd, w, static_cast<T*>(out[0].raw_data()), m, n);
      DS_CUDA_LAUNCH_CHECK();
    }
    const int64_t ncb = (n + kColX - 1) / kColX;
    const int64_t target = static_cast<int64_t>(sm_count()) * 4;
    int64_t splits = std::max<int64_t>(1, std::min<int64_t>({(m + 63) / 64, (target + ncb - 1) / ncb, 1024}));
    int64_t per = std::max<int64_t>(1, (m + splits - 1) / splits);
    splits = std::max<int64_t>(1, (m + per - 1) / per);
    Tensor part = Tensor::empty({(Center ? 2 : 1) * splits * n}, sizeof(V) == 8 ? DType::f64 : DType::f32,
                                x.device());
    V* pw = static_cast<V*>(part.raw_data());
    V* pb = Center ? pw + splits * n : nullptr;
    norm_bwd_dwdb_kernel<T, Center><<<dim3(static_cast<unsigned>(std::min<int64_t>(ncb, 1 << 20)),
                                           static_cast<unsigned>(splits)),
                                      dim3(kColX, kColY), 0, stream>>>(gp, xp, mean, rstd, pw, pb, m, n, per);
    DS_CUDA_LAUNCH_CHECK();
    merge_columns_kernel<T><<<blocks_for(n, 256), 256, 0, stream>>>(pw, static_cast<T*>(out[1].raw_data()), n,
                                                                    static_cast<int>(splits));
    DS_CUDA_LAUNCH_CHECK();
    if (Center) {
      DS_CHECK(out[2].is_contiguous(), "[", op, "] CUDA kernel expects contiguous tensors");
      merge_columns_kernel<T><<<blocks_for(n, 256), 256, 0, stream>>>(pb, static_cast<T*>(out[2].raw_data()), n,
                                                                      static_cast<int>(splits));
      DS_CUDA_LAUNCH_CHECK();
    }
  });
}

// --- group_norm ------------------------------------------------------------------------------------
// x: (N, C, S), C = G * Cg; block (n, g) is Cg * S contiguous values.
template <typename T>
__global__ void __launch_bounds__(512) group_norm_kernel(const T* __restrict__ x, const T* __restrict__ w,
                                                        const T* __restrict__ b, T* __restrict__ y,
                                                        opmath<T>* __restrict__ mean_out,
                                                        opmath<T>* __restrict__ rstd_out, int64_t blocks,
                                                        int64_t groups, int64_t cg, int64_t s, double eps) {
  using V = opmath<T>;
  __shared__ V smem[32];
  const int64_t len = cg * s;
  for (int64_t r = blockIdx.x; r < blocks; r += gridDim.x) {
    const T* p = x + r * len;
    T* q = y + r * len;
    V sum = 0;
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) sum += cvt<V>(p[j]);
    sum = block_allreduce(sum, SumOp{}, smem);
    const V mu = len == 0 ? V(0) : sum / static_cast<V>(len);
    V ss = 0;
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) {
      V dv = cvt<V>(p[j]) - mu;
      ss += dv * dv;
    }
    ss = block_allreduce(ss, SumOp{}, smem);
    const V var = len == 0 ? V(0) : ss / static_cast<V>(len);
    const V rs = V(1) / sqrt(var + static_cast<V>(eps));
    if (threadIdx.x == 0) {
      mean_out[r] = mu;
      rstd_out[r] = rs;
    }
    const int64_t g = r % groups;
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) {
      const int64_t ch = g * cg + j / s;
      q[j] = channel_affine(p[j], mu, rs, w[ch], b[ch]);
    }
  }
}

void group_norm(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  DeviceGuard guard(x.device().index);
  const NCS d = ncs_of(x, out[0], "group_norm");
  const int64_t nb = d.n, c = d.c, s = d.s;
  int64_t groups = a.get<int64_t>("groups");
  double eps = a.get<double>("eps");
  int64_t cg = c / groups, blocks = nb * groups;
  if (blocks == 0) return;
  visit_cuda_floating(x.dtype(), "group_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using V = opmath<T>;
    group_norm_kernel<T><<<grid_rows(blocks), row_threads(cg * s), 0, current_stream()>>>(
        static_cast<const T*>(x.raw_data()), static_cast<const T*>(in[1].raw_data()),
        static_cast<const T*>(in[2].raw_data()), static_cast<T*>(out[0].raw_data()),
        static_cast<V*>(out[1].raw_data()), static_cast<V*>(out[2].raw_data()), blocks, groups, cg, s, eps);
    DS_CUDA_LAUNCH_CHECK();
  });
}

// --- batch_norm ------------------------------------------------------------------------------------
// x: (N, C, S). Partial per-channel sums over values [split * per, ...) of the channel's
// N * S values: of x (mean == null) or of (x - mean)^2.
template <typename T>
__global__ void __launch_bounds__(256) bn_partial_kernel(const T* __restrict__ x, const opmath<T>* __restrict__ mean,
                                                        opmath<T>* __restrict__ part, int64_t c, int64_t s,
                                                        int64_t count, int64_t per, int splits) {
  using V = opmath<T>;
  __shared__ V smem[32];
  const int64_t split = blockIdx.y;
  const int64_t k0 = split * per;
  const int64_t k1 = k0 + per < count ? k0 + per : count;
  for (int64_t ch = blockIdx.x; ch < c; ch += gridDim.x) {
    const V mu = mean ? mean[ch] : V(0);
    V acc = 0;
    // value k of the channel is x[(i * c + ch) * s + j] with (i, j) = divmod(k, s); (i, j)
    // advance by divmod(blockDim.x, s) per step (no division in the loop)
    const int64_t kt = k0 + threadIdx.x;
    int64_t i = kt / s, j = kt - (kt / s) * s;
    const int64_t di = blockDim.x / s, dj = blockDim.x - di * s;
    for (int64_t k = kt; k < k1; k += blockDim.x) {
      V v = cvt<V>(x[(i * c + ch) * s + j]);
      if (mean) {
        v -= mu;
        acc += v * v;
      } else {
        acc += v;
      }
      i += di;
      j += dj;
      if (j >= s) {
        j -= s;
        ++i;
      }
    }
    acc = block_allreduce(acc, SumOp{}, smem);
    if (threadIdx.x == 0) part[ch * splits + split] = acc;
  }
}

// phase 0: mean; phase 1: rstd and the unbiased var from the squared deviations.
template <typename V>
__global__ void bn_finish_kernel(const V* __restrict__ part, int splits, int64_t c, int64_t count, double eps,
                                 V* __restrict__ mean_out, V* __restrict__ rstd_out, V* __restrict__ var_out,
                                 int phase) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t ch = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; ch < c; ch += stride) {
    V s = 0;
    for (int k = 0; k < splits; ++k) s += part[ch * splits + k];
    if (phase == 0) {
      mean_out[ch] = count ? s / static_cast<V>(count) : V(0);
    } else {
      rstd_out[ch] = V(1) / sqrt((count ? s / static_cast<V>(count) : V(0)) + static_cast<V>(eps));
      var_out[ch] = count > 1 ? s / static_cast<V>(count - 1) : ::cuda::std::numeric_limits<V>::quiet_NaN();
    }
  }
}

template <typename V>
__global__ void bn_eval_stats_kernel(const V* __restrict__ rm, const V* __restrict__ rv, int64_t c, double eps,
                                     V* __restrict__ mean_out, V* __restrict__ rstd_out, V* __restrict__ var_out) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t ch = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; ch < c; ch += stride) {
    mean_out[ch] = rm[ch];
    var_out[ch] = rv[ch];
    rstd_out[ch] = V(1) / sqrt(rv[ch] + static_cast<V>(eps));
  }
}

template <typename T>
__global__ void bn_apply_kernel(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b,
                                const opmath<T>* __restrict__ mean, const opmath<T>* __restrict__ rstd,
                                T* __restrict__ y, int64_t total, int64_t c, int64_t s) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const bool narrow = total <= 0xffffffffLL;  // 32-bit index math (much cheaper division)
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t ch = narrow ? static_cast<int64_t>((static_cast<uint32_t>(i) / static_cast<uint32_t>(s)) %
                                                     static_cast<uint32_t>(c))
                              : (i / s) % c;
    y[i] = channel_affine(x[i], mean[ch], rstd[ch], w[ch], b[ch]);
  }
}

void batch_norm(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  DeviceGuard guard(x.device().index);
  if (is_nhwc(x)) return batch_norm_nhwc(in, out, a);
  const NCS d = ncs_of(x, out[0], "batch_norm");
  const int64_t nb = d.n, c = d.c, s = d.s;
  bool training = a.get<bool>("training");
  double eps = a.get<double>("eps");
  int64_t count = nb * s;
  if (c == 0) return;
  cudaStream_t stream = current_stream();
  visit_cuda_floating(x.dtype(), "batch_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using V = opmath<T>;
    V* mean_out = static_cast<V*>(out[1].raw_data());
    V* rstd_out = static_cast<V*>(out[2].raw_data());
    V* var_out = static_cast<V*>(out[3].raw_data());
    if (!training) {
      bn_eval_stats_kernel<V><<<blocks_for(c, 256), 256, 0, stream>>>(
          static_cast<const V*>(in[3].raw_data()), static_cast<const V*>(in[4].raw_data()), c, eps, mean_out,
          rstd_out, var_out);
      DS_CUDA_LAUNCH_CHECK();
    } else {
      const int64_t target = static_cast<int64_t>(sm_count()) * 8;
      int64_t splits = std::max<int64_t>(1, std::min<int64_t>({(target + c - 1) / c, (count + 4095) / 4096, 4096}));
      int64_t per = std::max<int64_t>(1, (count + splits - 1) / splits);
      splits = std::max<int64_t>(1, (count + per - 1) / per);
      Tensor part = Tensor::empty({c * splits}, sizeof(V) == 8 ? DType::f64 : DType::f32, x.device());
      V* pp = static_cast<V*>(part.raw_data());
      dim3 grid(static_cast<unsigned>(std::min<int64_t>(c, 1 << 20)), static_cast<unsigned>(splits));
      const T* xp = static_cast<const T*>(x.raw_data());
      const int64_t sd = s == 0 ? 1 : s;
      bn_partial_kernel<T><<<grid, 256, 0, stream>>>(xp, nullptr, pp, c, sd, count, per, static_cast<int>(splits));
      DS_CUDA_LAUNCH_CHECK();
      bn_finish_kernel<V><<<blocks_for(c, 256), 256, 0, stream>>>(pp, static_cast<int>(splits), c, count, eps,
                                                                  mean_out, rstd_out, var_out, 0);
      DS_CUDA_LAUNCH_CHECK();
      bn_partial_kernel<T><<<grid, 256, 0, stream>>>(xp, mean_out, pp, c, sd, count, per, static_cast<int>(splits));
      DS_CUDA_LAUNCH_CHECK();
      bn_finish_kernel<V><<<blocks_for(c, 256), 256, 0, stream>>>(pp, static_cast<int>(splits), c, count, eps,
                                                                  mean_out, rstd_out, var_out, 1);
      DS_CUDA_LAUNCH_CHECK();
    }
    int64_t total = x.numel();
    if (total > 0) {
      bn_apply_kernel<T><<<blocks_for(total, 256), 256, 0, stream>>>(
          static_cast<const T*>(x.raw_data()), static_cast<const T*>(in[1].raw_data()),
          static_cast<const T*>(in[2].raw_data()), mean_out, rstd_out, static_cast<T*>(out[0].raw_data()), total,
          c, s);
      DS_CUDA_LAUNCH_CHECK();
    }
  });
}

void register_norm_kernels() {
  register_cuda_kernel("layer_norm", norm_fwd<true>);
  register_cuda_kernel("rms_norm", norm_fwd<false>);
  register_cuda_kernel("layer_norm_backward", norm_bwd<true>);
  register_cuda_kernel("rms_norm_backward", norm_bwd<false>);
  register_cuda_kernel("group_norm", group_norm);
  register_cuda_kernel("batch_norm", batch_norm);
}

}  // namespace
}  // namespace deepseek::cuda

DS_REGISTER(deepseek::cuda::register_norm_kernels);
