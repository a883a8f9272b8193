// Fused softmax and log_softmax on CUDA over one dim (the op definition makes the input
// contiguous), and the fused softmax cross-entropy over rows. Rows along the last dim: one
// warp per row up to 1024 values, reading the row three times (max, sum of exp, write); one
// block per row beyond, reading it twice (online max and sum, write). f16/bf16 computed in f32.
// Other dims: one thread per (outer, inner) column, coalesced across inner. Semantics as the
// CPU kernel: the max skips NaN (a NaN still makes the sum, so the row, NaN) and an all -inf
// row uses max 0.
#include <cmath>

#include "deepseek/backend/cuda/device/loops.cuh"
#include "deepseek/backend/dim_split.h"
#include "deepseek/backend/cuda/device/reduce.cuh"
#include "deepseek/backend/cuda/index_common.cuh"

namespace deepseek::cuda {
namespace {

template <typename V> __device__ __forceinline__ V neg_inf() { return -::cuda::std::numeric_limits<V>::infinity(); }

template <bool Log, typename T, typename V>
__device__ __forceinline__ T softmax_out(V x, V m, V s_or_ls) {
  // Log: s_or_ls = m + log(sum); else s_or_ls = 1 / sum.
  if constexpr (Log) return cvt<T>(x - s_or_ls);
  else return cvt<T>(exp(x - m) * s_or_ls);
}

constexpr int kSoftmaxWarpMax = 1024;  // longest row for one warp
constexpr int kSoftmaxBlock = 512;

template <typename T, bool Log>
__global__ void __launch_bounds__(256) softmax_warp_kernel(const T* __restrict__ x, T* __restrict__ y,
                                                          int64_t rows, int64_t n) {
  using V = opmath<T>;
  const int lane = threadIdx.x & 31;
  const int64_t warps_per_block = blockDim.x >> 5;
  const int64_t step = static_cast<int64_t>(gridDim.x) * warps_per_block;
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * warps_per_block + (threadIdx.x >> 5); row < rows;
       row += step) {  // uniform within the warp
    const T* p = x + row * n;
    T* q = y + row * n;
    V m = neg_inf<V>();
    for (int64_t k = lane; k < n; k += 32) {
      V v = cvt<V>(p[k]);
      m = v > m ? v : m;
    }
    m = warp_allreduce(m, MaxSkipNanOp{});
    if (m == neg_inf<V>()) m = V(0);
    V s = 0;
    for (int64_t k = lane; k < n; k += 32) s += exp(cvt<V>(p[k]) - m);
    s = warp_allreduce(s, SumOp{});
    V t = Log ? m + log(s) : V(1) / s;
    for (int64_t k = lane; k < n; k += 32) q[k] = softmax_out<Log, T>(cvt<V>(p[k]), m, t);
  }
}

// Row traversal of the block kernels: the block reads the row in 16-byte packs (its unaligned
// head and tail element by element), as PyTorch's softmax, for 128-bit loads and stores; scalar
// loads left these kernels at 60% of PyTorch's bandwidth on a 30522-wide vocabulary.
// for_row calls f(k, x[k]) for this thread's elements of x[0, n).
template <typename T>
__device__ __forceinline__ int64_t row_head(const T* p, int64_t n) {  // elements before a 16-byte boundary
  constexpr int V = 16 / sizeof(T);
  const int64_t head = static_cast<int64_t>((V - (reinterpret_cast<uintptr_t>(p) / sizeof(T)) % V) % V);
  return head < n ? head : n;
}

template <typename T, typename F>
__device__ __forceinline__ void for_row(const T* __restrict__ x, int64_t n, F&& f) {
  constexpr int V = 16 / sizeof(T);
  const int64_t head = row_head(x, n), packs = (n - head) / V;
  for (int64_t k = threadIdx.x; k < head; k += blockDim.x) f(k, x[k]);
  const auto* body = reinterpret_cast<const Pack<V, T>*>(x + head);
#pragma unroll 2
  for (int64_t i = threadIdx.x; i < packs; i += blockDim.x) {
    const Pack<V, T> pk = body[i];
#pragma unroll
    for (int j = 0; j < V; ++j) f(head + i * V + j, pk.v[j]);
  }
  for (int64_t k = head + packs * V + threadIdx.x; k < n; k += blockDim.x) f(k, x[k]);
}

// y[k] = f(x[k], z[k]) over the row (z may be x). Packs when all three rows share x's
// alignment within 16 bytes (rows of contiguous tensors at the same offset always do).
template <typename T, typename F>
__device__ __forceinline__ void map_row(const T* __restrict__ x, const T* __restrict__ z, T* __restrict__ y,
                                        int64_t n, F&& f) {
  constexpr int V = 16 / sizeof(T);
  const int64_t head = row_head(x, n);
  if (row_head(y, n) != head || row_head(z, n) != head) {
    for (int64_t k = threadIdx.x; k < n; k += blockDim.x) y[k] = f(x[k], z[k]);
    return;
  }
  const int64_t packs = (n - head) / V;
  for (int64_t k = threadIdx.x; k < head; k += blockDim.x) y[k] = f(x[k], z[k]);
  const auto* xb = reinterpret_cast<const Pack<V, T>*>(x + head);
  const auto* zb = reinterpret_cast<const Pack<V, T>*>(z + head);
  auto* yb = reinterpret_cast<Pack<V, T>*>(y + head);
#pragma unroll 2
  for (int64_t i = threadIdx.x; i < packs; i += blockDim.x) {
    const Pack<V, T> a = xb[i], b = zb[i];
    Pack<V, T> o;
#pragma unroll
    for (int j = 0; j < V; ++j) o.v[j] = f(a.v[j], b.v[j]);
    yb[i] = o;
  }
  for (int64_t k = head + packs * V + threadIdx.x; k < n; k += blockDim.x) y[k] = f(x[k], z[k]);
}

// The block's row max mb and sum of exp(x - mb) in one read: each thread keeps its running max
// and its sum rescaled to it (online softmax), then the block combines them. As the two-pass
// form: the max skips NaN (a NaN still reaches the sum), an all -inf row uses max 0, and a
// +inf max makes the sum NaN (inf - inf).
template <typename T, typename V>
__device__ __forceinline__ void row_max_sumexp(const T* __restrict__ p, int64_t n, V* smem, V& mb, V& s) {
  V m = neg_inf<V>();
  s = 0;
  for_row(p, n, [&](int64_t, T x) {
    V v = cvt<V>(x);
    if (v > m) {
      s = s * exp(m - v) + V(1);
      m = v;
    } else if (v != neg_inf<V>()) {
      s += exp(v - m);
    }
  });
  mb = block_allreduce(m, MaxSkipNanOp{}, smem);
  s = s == V(0) ? V(0) : s * exp(m - mb);
  s = block_allreduce(s, SumOp{}, smem);
  if (mb == neg_inf<V>()) mb = V(0);
  if (mb == -neg_inf<V>()) s = ::cuda::std::numeric_limits<V>::quiet_NaN();
}

// Long rows: one read for the max and sum (row_max_sumexp), a second to write: two reads of
// the row instead of three.
template <typename T, bool Log>
__global__ void __launch_bounds__(kSoftmaxBlock) softmax_block_kernel(const T* __restrict__ x, T* __restrict__ y,
                                                                     int64_t rows, int64_t n) {
  using V = opmath<T>;
  __shared__ V smem[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* p = x + row * n;
    T* q = y + row * n;
    V mb, s;
    row_max_sumexp(p, n, smem, mb, s);
    V t = Log ? mb + log(s) : V(1) / s;
    map_row(p, p, q, n, [&](T x, T) { return softmax_out<Log, T>(cvt<V>(x), mb, t); });
  }
}

// Softmax over the middle dim of [outer, n, inner]: one thread per (outer, inner) column.
template <typename T, bool Log>
__global__ void softmax_column_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t outer, int64_t n,
                                      int64_t inner) {
  using V = opmath<T>;
  const int64_t cols = outer * inner;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; c < cols; c += stride) {
    const int64_t o = c / inner, i = c % inner;
    const T* p = x + o * n * inner + i;
    T* q = y + o * n * inner + i;
    V m = neg_inf<V>();
    for (int64_t k = 0; k < n; ++k) {
      V v = cvt<V>(p[k * inner]);
      m = v > m ? v : m;
    }
    if (m == neg_inf<V>()) m = V(0);
    V s = 0;
    for (int64_t k = 0; k < n; ++k) s += exp(cvt<V>(p[k * inner]) - m);
    V t = Log ? m + log(s) : V(1) / s;
    for (int64_t k = 0; k < n; ++k) q[k * inner] = softmax_out<Log, T>(cvt<V>(p[k * inner]), m, t);
  }
}

template <bool Log>
void softmax_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const char* op = Log ? "log_softmax" : "softmax";
  Tensor x = in[0];
  DeviceGuard g(x.device().index);
  DS_CHECK(x.is_contiguous() && out[0].is_contiguous(), "[", op, "] CUDA kernel expects contiguous tensors");
  if (x.numel() == 0) return;
  const DimSplit geo = split_at_dim(x, a.get<int64_t>("dim"), op);
  const int64_t outer = geo.outer, n = geo.n, inner = geo.inner;
  cudaStream_t stream = current_stream();
  visit_cuda_floating(x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = static_cast<const T*>(x.raw_data());
    T* yp = static_cast<T*>(out[0].raw_data());
    if (inner == 1 && n <= kSoftmaxWarpMax) {
      constexpr int threads = 256;
      softmax_warp_kernel<T, Log><<<blocks_for(outer, threads / 32, 1 << 20), threads, 0, stream>>>(xp, yp, outer, n);
    } else if (inner == 1) {
      softmax_block_kernel<T, Log><<<static_cast<unsigned>(std::min<int64_t>(outer, 1 << 20)), kSoftmaxBlock, 0,
                                     stream>>>(xp, yp, outer, n);
    } else {
      softmax_column_kernel<T, Log><<<blocks_for(outer * inner, 256), 256, 0, stream>>>(xp, yp, outer, n, inner);
    }
    DS_CUDA_LAUNCH_CHECK();
  });
}

// log_softmax_backward: dx = g - exp(y) * sum(g) along the dim. Rows along the last dim: a
// warp per row up to 1024 values, a block per row beyond; other dims: a thread per column.
template <typename T>
__device__ __forceinline__ T lsm_grad(T g, T y, opmath<T> s) {
  return cvt<T>(cvt<opmath<T>>(g) - exp(cvt<opmath<T>>(y)) * s);
}

template <typename T>
__global__ void __launch_bounds__(256) lsm_backward_warp_kernel(const T* __restrict__ g, const T* __restrict__ y,
                                                               T* __restrict__ dx, int64_t rows, int64_t n) {
  using V = opmath<T>;
  const int lane = threadIdx.x & 31;
  const int64_t warps_per_block = blockDim.x >> 5;
  const int64_t step = static_cast<int64_t>(gridDim.x) * warps_per_block;
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * warps_per_block + (threadIdx.x >> 5); row < rows;
       row += step) {
    const int64_t o = row * n;
    V s = 0;
    for (int64_t k = lane; k < n; k += 32) s += cvt<V>(g[o + k]);
    s = warp_allreduce(s, SumOp{});
    for (int64_t k = lane; k < n; k += 32) dx[o + k] = lsm_grad(g[o + k], y[o + k], s);
  }
}

template <typename T>
__global__ void __launch_bounds__(kSoftmaxBlock) lsm_backward_block_kernel(const T* __restrict__ g,
                                                                          const T* __restrict__ y,
                                                                          T* __restrict__ dx, int64_t rows, int64_t n) {
  using V = opmath<T>;
  __shared__ V smem[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t o = row * n;
    V s = 0;
    for_row(g + o, n, [&](int64_t, T x) { s += cvt<V>(x); });
    s = block_allreduce(s, SumOp{}, smem);
    map_row(g + o, y + o, dx + o, n, [&](T gv, T yv) { return lsm_grad(gv, yv, s); });
  }
}

template <typename T>
__global__ void lsm_backward_column_kernel(const T* __restrict__ g, const T* __restrict__ y, T* __restrict__ dx,
                                           int64_t outer, int64_t n, int64_t inner) {
  using V = opmath<T>;
  const int64_t cols = outer * inner;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; c < cols; c += stride) {
    const int64_t base = (c / inner) * n * inner + c % inner;
    V s = 0;
    for (int64_t k = 0; k < n; ++k) s += cvt<V>(g[base + k * inner]);
    for (int64_t k = 0; k < n; ++k) dx[base + k * inner] = lsm_grad(g[base + k * inner], y[base + k * inner], s);
  }
}

void log_softmax_backward_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor &g = in[0], &y = in[1];
  DeviceGuard guard(y.device().index);
  if (y.numel() == 0) return;
  const DimSplit geo = split_at_dim(y, a.get<int64_t>("dim"), "log_softmax_backward");
  const int64_t outer = geo.outer, n = geo.n, inner = geo.inner;
  cudaStream_t stream = current_stream();
  visit_cuda_floating(y.dtype(), "log_softmax_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T *gp = static_cast<const T*>(g.raw_data()), *yp = static_cast<const T*>(y.raw_data());
    T* dp = static_cast<T*>(out[0].raw_data());
    if (inner == 1 && n <= kSoftmaxWarpMax)
      lsm_backward_warp_kernel<T><<<blocks_for(outer, 256 / 32, 1 << 20), 256, 0, stream>>>(gp, yp, dp, outer, n);
    else if (inner == 1)
      lsm_backward_block_kernel<T><<<static_cast<unsigned>(std::min<int64_t>(outer, 1 << 20)), kSoftmaxBlock, 0,
                                     stream>>>(gp, yp, dp, outer, n);
    else
      lsm_backward_column_kernel<T><<<blocks_for(outer * inner, 256), 256, 0, stream>>>(gp, yp, dp, outer, n, inner);
    DS_CUDA_LAUNCH_CHECK();
  });
}

// softmax_cross_entropy: one block per row. The forward's single read keeps the online max and
// sum (row_max_sumexp) and picks x[t]; the backward writes g (exp(x - lse) - [k == t]).
// Targets out of range are never read through: their rows get NaN, and the op raises an Error
// (PendingRangeChecks: the check is read back once the main kernel is queued, so the device
// keeps working while the host waits).
template <typename T>
__global__ void __launch_bounds__(kSoftmaxBlock) ce_forward_kernel(const T* __restrict__ x, const void* target,
                                                                  bool i64, int64_t ignore, opmath<T>* __restrict__ loss,
                                                                  opmath<T>* __restrict__ lse, int64_t rows, int64_t n) {
  using V = opmath<T>;
  __shared__ V smem[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* p = x + row * n;
    V mb, s;
    row_max_sumexp(p, n, smem, mb, s);
    if (threadIdx.x == 0) {
      const V l = mb + log(s);
      const int64_t t = load_index(target, i64, row);
      lse[row] = l;
      loss[row] = t == ignore ? V(0)
                  : (t < 0 || t >= n) ? ::cuda::std::numeric_limits<V>::quiet_NaN()
                                      : l - cvt<V>(p[t]);
    }
  }
}

template <typename T>
__global__ void __launch_bounds__(kSoftmaxBlock) ce_backward_kernel(const opmath<T>* __restrict__ g,
                                                                   const T* __restrict__ x, const void* target,
                                                                   bool i64, int64_t ignore,
                                                                   const opmath<T>* __restrict__ lse,
                                                                   T* __restrict__ dx, int64_t rows, int64_t n) {
  using V = opmath<T>;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* p = x + row * n;
    T* q = dx + row * n;
    const int64_t t = load_index(target, i64, row);
    const bool valid = t != ignore && t >= 0 && t < n;
    const V gr = valid ? g[row] : V(0), l = lse[row];
    if (!valid) {
      map_row(p, p, q, n, [&](T, T) { return cvt<T>(V(0)); });
      continue;
    }
    map_row(p, p, q, n, [&](T v, T) { return cvt<T>(gr * exp(cvt<V>(v) - l)); });
    __syncthreads();  // the target's element was written by some thread above
    if (threadIdx.x == 0) q[t] = cvt<T>(gr * (exp(cvt<V>(p[t]) - l) - V(1)));
    __syncthreads();
  }
}

void softmax_cross_entropy_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor &x = in[0], &t = in[1];
  const int64_t rows = x.sizes()[0], n = x.sizes()[1], ignore = a.get<int64_t>("ignore_index");
  if (rows == 0) return;
  DeviceGuard guard(x.device().index);
  cudaStream_t stream = current_stream();
  const bool i64 = t.dtype() == DType::i64;
  PendingRangeChecks check({{t, 0, n, [n](int64_t v) {
                               return detail::str_cat("[cross_entropy] target ", v, " is out of bounds for ", n,
                                                      " classes");
                             }, ignore}});
  visit_cuda_floating(x.dtype(), "softmax_cross_entropy", [&](auto tag) {
    using T = typename decltype(tag)::type;
    ce_forward_kernel<T><<<static_cast<unsigned>(std::min<int64_t>(rows, 1 << 20)), kSoftmaxBlock, 0, stream>>>(
        static_cast<const T*>(x.raw_data()), t.raw_data(), i64, ignore, static_cast<opmath<T>*>(out[0].raw_data()),
        static_cast<opmath<T>*>(out[1].raw_data()), rows, n);
  });
  DS_CUDA_LAUNCH_CHECK();
  check.finish();
}

void softmax_cross_entropy_backward_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out,
                                           const ops::Attrs& a) {
  const Tensor &g = in[0], &x = in[1], &t = in[2], &lse = in[3];
  const int64_t rows = x.sizes()[0], n = x.sizes()[1];
  if (out[0].numel() == 0) return;
  DeviceGuard guard(x.device().index);
  visit_cuda_floating(x.dtype(), "softmax_cross_entropy_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    ce_backward_kernel<T><<<static_cast<unsigned>(std::min<int64_t>(rows, 1 << 20)), kSoftmaxBlock, 0,
                            current_stream()>>>(
        static_cast<const opmath<T>*>(g.raw_data()), static_cast<const T*>(x.raw_data()), t.raw_data(),
        t.dtype() == DType::i64, a.get<int64_t>("ignore_index"), static_cast<const opmath<T>*>(lse.raw_data()),
        static_cast<T*>(out[0].raw_data()), rows, n);
  });
  DS_CUDA_LAUNCH_CHECK();
}

void register_softmax_kernels() {
  register_cuda_kernel("softmax", softmax_kernel<false>);
  register_cuda_kernel("log_softmax", softmax_kernel<true>);
  register_cuda_kernel("log_softmax_backward", log_softmax_backward_kernel);
  register_cuda_kernel("softmax_cross_entropy", softmax_cross_entropy_kernel);
  register_cuda_kernel("softmax_cross_entropy_backward", softmax_cross_entropy_backward_kernel);
}

}  // namespace
}  // namespace deepseek::cuda

DS_REGISTER(deepseek::cuda::register_softmax_kernels);
