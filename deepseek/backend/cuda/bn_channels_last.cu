// batch_norm and its fused backward on channels_last (N, H, W, C) tensors, read as a (rows, C)
// matrix with rows = N*H*W: the channel is the innermost dim, so per-channel statistics are
// column sums. A block is 32 x 8 threads over (VC*32 channels, rows), each thread reading VC
// adjacent channels at once; blocks split the rows, and the splits are added in a fixed order
// (deterministic). Forward statistics take one pass over x: sums of (x - x[0, c]) and of its
// square (shifted by the first row, so f32 does not cancel when the mean is large), then one
// pass writes y. Backward: one pass for S1 = sum(g), S2 = sum(g (x - mean)), one for dx.
// Statistics are f32 (f64 for f64 inputs).
#include "deepseek/backend/cuda/bn_channels_last.h"

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <type_traits>

#include "deepseek/backend/cuda/device/loops.cuh"
#include "deepseek/backend/cuda/device/reduce.cuh"

namespace deepseek::cuda {
namespace {

constexpr int kTy = 8;

template <typename T, int VC>
struct alignas(sizeof(T) * VC) Pack {
  T v[VC];
};

template <typename T, int VC>
__device__ __forceinline__ Pack<T, VC> load(const T* p) {
  return *reinterpret_cast<const Pack<T, VC>*>(p);
}

// Per-(split, channel) sums of rows [split * per, ...): forward (g == null) of d = x - x[0, c]
// and d^2; backward of g and g (x - mean).
template <typename T, typename A, int VC>
__global__ void __launch_bounds__(32 * kTy) column_sums(const T* __restrict__ x, const T* __restrict__ g,
                                                        const A* __restrict__ mean, int64_t rows, int64_t C,
                                                        int64_t per, A* __restrict__ p1, A* __restrict__ p2) {
  __shared__ A sh1[kTy][32 * VC], sh2[kTy][32 * VC];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t c0 = static_cast<int64_t>(blockIdx.x) * 32 * VC + tx * VC;
  const bool active = c0 < C;
  A s1[VC], s2[VC], ctr[VC];
#pragma unroll
  for (int k = 0; k < VC; ++k) {
    s1[k] = s2[k] = 0;
    ctr[k] = active ? (g ? mean[c0 + k] : cvt<A>(x[c0 + k])) : A(0);
  }
  if (active) {
    const int64_t r1 = min(rows, (static_cast<int64_t>(blockIdx.y) + 1) * per);
    for (int64_t r = static_cast<int64_t>(blockIdx.y) * per + ty; r < r1; r += kTy) {
      Pack<T, VC> xv = load<T, VC>(x + r * C + c0);
      if (g) {
        Pack<T, VC> gv = load<T, VC>(g + r * C + c0);
#pragma unroll
        for (int k = 0; k < VC; ++k) {
          A gk = cvt<A>(gv.v[k]);
          s1[k] += gk;
          s2[k] += gk * (cvt<A>(xv.v[k]) - ctr[k]);
        }
      } else {
#pragma unroll
        for (int k = 0; k < VC; ++k) {
          A d = cvt<A>(xv.v[k]) - ctr[k];
          s1[k] += d;
          s2[k] += d * d;
        }
      }
    }
  }
#pragma unroll
  for (int k = 0; k < VC; ++k) {
    sh1[ty][tx * VC + k] = s1[k];
    sh2[ty][tx * VC + k] = s2[k];
  }
  __syncthreads();
  if (ty == 0 && active) {
#pragma unroll
    for (int k = 0; k < VC; ++k) {
      A a = 0, b = 0;
      for (int j = 0; j < kTy; ++j) {
        a += sh1[j][tx * VC + k];
        b += sh2[j][tx * VC + k];
      }
      p1[blockIdx.y * C + c0 + k] = a;
      p2[blockIdx.y * C + c0 + k] = b;
    }
  }
}

// Sums the partial sums of channel c over the splits in order; split k of channel c is at
// p[c * cs + k * ks].
template <typename A>
__device__ __forceinline__ void sum_splits(const A* p1, const A* p2, int splits, int64_t cs, int64_t ks, int64_t c,
                                           A& s1, A& s2) {
  s1 = s2 = 0;
  for (int k = 0; k < splits; ++k) {
    s1 += p1[c * cs + k * ks];
    s2 += p2[c * cs + k * ks];
  }
}

template <typename T, typename A>
__global__ void stats_finish(const T* __restrict__ x, const A* __restrict__ p1, const A* __restrict__ p2, int splits,
                             int64_t C, int64_t n, double eps, A* __restrict__ mean, A* __restrict__ rstd,
                             A* __restrict__ var) {
  int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  A s, ss;
  sum_splits(p1, p2, splits, 1, C, c, s, ss);
  A m = s / static_cast<A>(n);
  A vb = ss / static_cast<A>(n) - m * m;
  vb = vb > A(0) ? vb : A(0);
  mean[c] = cvt<A>(x[c]) + m;
  rstd[c] = A(1) / sqrt(vb + static_cast<A>(eps));
  var[c] = n > 1 ? vb * static_cast<A>(n) / static_cast<A>(n - 1) : ::cuda::std::numeric_limits<A>::quiet_NaN();
}

template <typename A>
__global__ void eval_stats(const A* __restrict__ rm, const A* __restrict__ rv, int64_t C, double eps,
                           A* __restrict__ mean, A* __restrict__ rstd, A* __restrict__ var) {
  int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  mean[c] = rm[c];
  var[c] = rv[c];
  rstd[c] = A(1) / sqrt(rv[c] + static_cast<A>(eps));
}

// Per channel: y = x a + b (forward: a = w rstd, b = bias - mean a) or dx = g a + (x - mean) k2 + k3
// (backward), as coefficient rows coef[0..2][C].
template <typename T, typename A>
__global__ void fwd_coef(const T* w, const T* b, const A* mean, const A* rstd, int64_t C, A* coef) {
  int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  A a = rstd[c] * cvt<A>(w[c]);
  coef[c] = a;
  coef[C + c] = cvt<A>(b[c]) - mean[c] * a;
}

template <typename T, typename A>
__global__ void bwd_finish(const A* p1, const A* p2, int splits, int64_t cs, int64_t ks, const T* w, const A* rstd,
                           int64_t n, int64_t C, T* dw, T* db, A* coef) {
  int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  A s1, s2;
  sum_splits(p1, p2, splits, cs, ks, c, s1, s2);
  A r = rstd[c];
  s2 *= r;
  A wr = cvt<A>(w[c]) * r;
  dw[c] = cvt<T>(s2);
  db[c] = cvt<T>(s1);
  coef[c] = wr;
  coef[C + c] = -wr * r * s2 / static_cast<A>(n);
  coef[2 * C + c] = -wr * s1 / static_cast<A>(n);
}

// out = x coef0 + coef1 (g == null), or g coef0 + (x - mean) coef1 + coef2; VC channels a thread.
template <typename T, typename A, int VC>
__global__ void apply(const T* __restrict__ x, const T* __restrict__ g, const A* __restrict__ mean,
                      const A* __restrict__ coef, uint32_t C, FastDivider Cd, uint32_t packs, T* __restrict__ out) {
  const uint32_t stride = gridDim.x * blockDim.x;
  for (uint32_t p = blockIdx.x * blockDim.x + threadIdx.x; p < packs; p += stride) {
    const uint32_t i = p * VC;
    const uint32_t c = i - Cd.div(i) * C;
    Pack<T, VC> xv = load<T, VC>(x + i), o;
    if (g) {
      Pack<T, VC> gv = load<T, VC>(g + i);
#pragma unroll
      for (int k = 0; k < VC; ++k)
        o.v[k] = cvt<T>(cvt<A>(gv.v[k]) * coef[c + k] + (cvt<A>(xv.v[k]) - mean[c + k]) * coef[C + c + k] +
                        coef[2 * C + c + k]);
    } else {
#pragma unroll
      for (int k = 0; k < VC; ++k) o.v[k] = cvt<T>(cvt<A>(xv.v[k]) * coef[c + k] + coef[C + c + k]);
    }
    *reinterpret_cast<Pack<T, VC>*>(out + i) = o;
  }
}

// Channels a thread handles: as many as keep a warp's 32 threads within C, when C and the
// pointers allow the wider loads.
int pack_width(int64_t C, size_t elem, std::initializer_list<const void*> ptrs) {
  for (int vc : {4, 2}) {
    if (C % vc != 0 || C < 32 * vc) continue;
    bool aligned = true;
    for (const void* p : ptrs) aligned = aligned && reinterpret_cast<uintptr_t>(p) % (elem * vc) == 0;
    if (aligned) return vc;
  }
  return 1;
}

template <typename F>
void with_width(int vc, F f) {
  if (vc == 4) return f(std::integral_constant<int, 4>{});
  if (vc == 2) return f(std::integral_constant<int, 2>{});
  f(std::integral_constant<int, 1>{});
}

struct Split {
  int64_t tiles, splits, per;
};
Split split_rows(int64_t rows, int64_t C, int vc) {
  Split s;
  s.tiles = (C + 32 * vc - 1) / (32 * vc);
  int64_t target = static_cast<int64_t>(sm_count()) * 8;
  s.splits = std::max<int64_t>(1, std::min<int64_t>({(target + s.tiles - 1) / s.tiles, rows / 64, 65535}));
  s.per = (rows + s.splits - 1) / s.splits;
  s.splits = std::max<int64_t>(1, (rows + s.per - 1) / s.per);
  return s;
}

template <typename T, typename A, int VC>
void launch_apply(const T* x, const T* g, const A* mean, const A* coef, int64_t C, int64_t total, T* out,
                  cudaStream_t stream) {
  uint32_t packs = static_cast<uint32_t>(total / VC);
  apply<T, A, VC><<<blocks_for(packs, kThreads), kThreads, 0, stream>>>(
      x, g, mean, coef, static_cast<uint32_t>(C), FastDivider(static_cast<uint32_t>(C)), packs, out);
  DS_CUDA_LAUNCH_CHECK();
}

}  // namespace

void bn_backward_finish(DType t, const void* p1, const void* p2, int splits, int64_t cs, int64_t ks, const void* w,
                        const void* rstd, int64_t n, int64_t C, void* dw, void* db, void* coef, cudaStream_t stream) {
  visit_cuda_floating(t, "batch_norm_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = opmath<T>;
    bwd_finish<T, A><<<blocks_for(C, 128), 128, 0, stream>>>(
        static_cast<const A*>(p1), static_cast<const A*>(p2), splits, cs, ks, static_cast<const T*>(w),
        static_cast<const A*>(rstd), n, C, static_cast<T*>(dw), static_cast<T*>(db), static_cast<A*>(coef));
  });
  DS_CUDA_LAUNCH_CHECK();
}

bool is_nhwc(const Tensor& t) { return suggest_memory_format(t) == MemoryFormat::channels_last; }

void batch_norm_nhwc(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  DS_CHECK(out[0].is_contiguous(MemoryFormat::channels_last), "[batch_norm] channels_last input needs a channels_last output");
  DS_CHECK(x.numel() < (int64_t{1} << 31), "[batch_norm] channels_last inputs of 2^31 elements or more are not supported on CUDA");
  const int64_t C = x.sizes()[1], rows = C ? x.numel() / C : 0;
  const bool training = a.get<bool>("training");
  const double eps = a.get<double>("eps");
  if (C == 0) return;
  cudaStream_t stream = current_stream(x.device().index);
  visit_cuda_floating(x.dtype(), "batch_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = opmath<T>;
    const DType ad = sizeof(A) == 8 ? DType::f64 : DType::f32;
    const T* xp = static_cast<const T*>(x.raw_data());
    A* mean = static_cast<A*>(out[1].raw_data());
    A* rstd = static_cast<A*>(out[2].raw_data());
    A* var = static_cast<A*>(out[3].raw_data());
    const int vc = pack_width(C, sizeof(T), {xp, out[0].raw_data()});
    if (!training) {
      eval_stats<A><<<blocks_for(C, 256), 256, 0, stream>>>(static_cast<const A*>(in[3].raw_data()),
                                                            static_cast<const A*>(in[4].raw_data()), C, eps, mean,
                                                            rstd, var);
      DS_CUDA_LAUNCH_CHECK();
    } else {
      Split s = split_rows(rows, C, vc);
      Tensor part = Tensor::empty({2, s.splits * C}, ad, x.device());
      A* p1 = static_cast<A*>(part.raw_data());
      A* p2 = p1 + s.splits * C;
      with_width(vc, [&](auto w) {
        constexpr int VC = decltype(w)::value;
        column_sums<T, A, VC><<<dim3(static_cast<unsigned>(s.tiles), static_cast<unsigned>(s.splits)), dim3(32, kTy),
                                0, stream>>>(xp, nullptr, nullptr, rows, C, s.per, p1, p2);
      });
      DS_CUDA_LAUNCH_CHECK();
      stats_finish<T, A><<<blocks_for(C, 256), 256, 0, stream>>>(xp, p1, p2, static_cast<int>(s.splits), C, rows, eps,
                                                                  mean, rstd, var);
      DS_CUDA_LAUNCH_CHECK();
    }
    if (x.numel() == 0) return;
    Tensor coef = Tensor::empty({2, C}, ad, x.device());
    A* cp = static_cast<A*>(coef.raw_data());
    fwd_coef<T, A><<<blocks_for(C, 256), 256, 0, stream>>>(static_cast<const T*>(in[1].raw_data()),
                                                           static_cast<const T*>(in[2].raw_data()), mean, rstd, C, cp);
    DS_CUDA_LAUNCH_CHECK();
    with_width(vc, [&](auto w) {
      launch_apply<T, A, decltype(w)::value>(xp, nullptr, mean, cp, C, x.numel(), static_cast<T*>(out[0].raw_data()),
                                             stream);
    });
  });
}

void batch_norm_backward_nhwc(const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  const Tensor &g = in[0], &x = in[1];
  DS_CHECK(g.is_contiguous(MemoryFormat::channels_last) && out[0].is_contiguous(MemoryFormat::channels_last),
           "[batch_norm_backward] channels_last input needs channels_last grad and output");
  DS_CHECK(x.numel() < (int64_t{1} << 31), "[batch_norm_backward] inputs of 2^31 elements or more are not supported on CUDA");
  const int64_t C = x.sizes()[1], rows = C ? x.numel() / C : 0;
  cudaStream_t stream = current_stream(x.device().index);
  if (x.numel() == 0 || C == 0) {
    for (auto& o : out)
      if (o.numel()) DS_CUDA_CHECK(cudaMemsetAsync(o.raw_data(), 0, o.nbytes(), stream));
    return;
  }
  visit_cuda_floating(x.dtype(), "batch_norm_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = opmath<T>;
    const DType ad = in[3].dtype();
    const T* xp = static_cast<const T*>(x.raw_data());
    const T* gp = static_cast<const T*>(g.raw_data());
    const A* mean = static_cast<const A*>(in[3].raw_data());
    const int vc = pack_width(C, sizeof(T), {xp, gp, out[0].raw_data()});
    Split s = split_rows(rows, C, vc);
    Tensor part = Tensor::empty({2, s.splits * C}, ad, x.device());
    Tensor coef = Tensor::empty({3, C}, ad, x.device());
    A* p1 = static_cast<A*>(part.raw_data());
    A* p2 = p1 + s.splits * C;
    A* cp = static_cast<A*>(coef.raw_data());
    with_width(vc, [&](auto w) {
      constexpr int VC = decltype(w)::value;
      column_sums<T, A, VC><<<dim3(static_cast<unsigned>(s.tiles), static_cast<unsigned>(s.splits)), dim3(32, kTy), 0,
                              stream>>>(xp, gp, mean, rows, C, s.per, p1, p2);
    });
    DS_CUDA_LAUNCH_CHECK();
    bn_backward_finish(x.dtype(), p1, p2, static_cast<int>(s.splits), 1, C, in[2].raw_data(), in[4].raw_data(), rows, C,
                       out[1].raw_data(), out[2].raw_data(), cp, stream);
    with_width(vc, [&](auto w) {
      launch_apply<T, A, decltype(w)::value>(xp, gp, mean, cp, C, x.numel(), static_cast<T*>(out[0].raw_data()),
                                             stream);
    });
  });
}

}  // namespace deepseek::cuda
