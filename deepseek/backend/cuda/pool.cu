// Pooling and im2col kernels on CUDA over contiguous (N, C, H, W) tensors (the op definitions
// make their inputs contiguous; max_pool2d_with_indices and adaptive_avg_pool2d (+ backward)
// also run on channels_last tensors, one thread per output element in memory order, so a
// warp reads adjacent channels): max_pool2d_with_indices, avg_pool2d and its backward,
// adaptive_avg_pool2d and its backward, unfold (im2col) and fold (col2im). One thread per
// output element; the backward ops and fold gather over the windows covering each input
// position (no atomics), in the CPU kernels' order, so results are deterministic and match
// the CPU's rounding; max_pool2d_backward gathers likewise, through the saved indices.
#include <cuda/std/limits>

#include "deepseek/backend/cuda/index_common.cuh"

namespace deepseek::cuda {
namespace {
using Ints = std::vector<int64_t>;

struct Geo {
  int64_t N, C, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw;
  bool include_pad;
};

Geo pool_geo(const Shape& in, const Shape& out, const ops::Attrs& a) {
  Ints k = a.get<Ints>("kernel"), s = a.get<Ints>("stride", k), p = a.get<Ints>("padding", {0, 0});
  Ints d = a.get<Ints>("dilation", {1, 1});
  return {in[0], in[1], in[2], in[3], out[2], out[3], k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1],
          a.get<bool>("count_include_pad", true)};
}

// Layout of a pooling op's tensors (input and output alike): NCHW planes are contiguous, NHWC
// pixels are C elements apart.
struct Lay {
  bool nhwc;
  int64_t C;
};
Lay lay_of(const Tensor& t) { return {suggest_memory_format(t) == MemoryFormat::channels_last, t.sizes()[1]}; }

// Element i (in memory order) of a tensor with spatial size OH x OW -> its (oh, ow), and the
// offset of its (n, c) plane in a tensor of spatial size H x W, with that plane's pixel stride.
// Idx is int32_t when every offset fits (launch_indexed): 64-bit divisions cost several times
// 32-bit ones, and this index math, not memory, bounded the pooling kernels.
template <typename Idx>
__device__ __forceinline__ void locate(const Lay& L, Idx i, Idx OH, Idx OW, Idx H, Idx W, Idx& oh, Idx& ow, Idx& base,
                                       Idx& ps) {
  if (L.nhwc) {
    const Idx C = static_cast<Idx>(L.C);
    Idx q = i / C, c = i - q * C;
    Idx r = q / OW;
    ow = q - r * OW;
    Idx n = r / OH;
    oh = r - n * OH;
    base = n * H * W * C + c;
    ps = C;
  } else {
    Idx r = i / OW;
    ow = i - r * OW;
    Idx plane = r / OH;
    oh = r - plane * OH;
    base = plane * H * W;
    ps = 1;
  }
}

// Runs launch(Idx{}) with Idx int32_t when the elements of both tensors stay below 2^30 (so
// the grid-stride step cannot overflow either), else int64_t.
template <typename Launch>
void launch_indexed(int64_t a, int64_t b, Launch launch) {
  if (a < (int64_t{1} << 30) && b < (int64_t{1} << 30)) launch(int32_t{});
  else launch(int64_t{});
}

#define DS_GRID_LOOP(i, n)                                                                          \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n);            \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
#define DS_GRID_LOOP_T(Idx, i, n) \
  for (Idx i = static_cast<Idx>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += static_cast<Idx>(gridDim.x) * blockDim.x)

template <typename T, typename Idx>
__global__ void max_pool_kernel(const T* __restrict__ X, T* __restrict__ Y, int64_t* __restrict__ I, Geo g,
                                Lay L, Idx total) {
  using A = opmath<T>;
  DS_GRID_LOOP_T(Idx, i, total) {
    Idx oh, ow, base, ps;
    locate<Idx>(L, i, g.OH, g.OW, g.H, g.W, oh, ow, base, ps);
    const T* xp = X + base;
    A best = -::cuda::std::numeric_limits<A>::infinity();
    int64_t arg = -1;
    bool nan = false;
    for (int64_t a = 0; a < g.kh && !nan; ++a) {
      int64_t h = oh * g.sh - g.ph + a * g.dh;
      if (h < 0 || h >= g.H) continue;
      for (int64_t b = 0; b < g.kw; ++b) {
        int64_t w = ow * g.sw - g.pw + b * g.dw;
        if (w < 0 || w >= g.W) continue;
        A v = cvt<A>(xp[(h * g.W + w) * ps]);
        if (arg < 0 || v > best || v != v) {
          best = v;
          arg = h * g.W + w;
          if (v != v) {
            nan = true;
            break;
          }
        }
      }
    }
    Y[i] = cvt<T>(best);
    I[i] = arg;
  }
}

// The clipped window of output (oh, ow) and its divisor, as the CPU's avg_windows.
struct AvgWindow {
  int64_t h0, h1, w0, w1, div;
};
__device__ __forceinline__ AvgWindow avg_window(const Geo& g, int64_t oh, int64_t ow) {
  int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
  int64_t h1 = min(h0 + g.kh, g.H + g.ph), w1 = min(w0 + g.kw, g.W + g.pw);
  int64_t full = (h1 - h0) * (w1 - w0);
  h0 = max(h0, int64_t{0});
  w0 = max(w0, int64_t{0});
  h1 = min(h1, g.H);
  w1 = min(w1, g.W);
  return {h0, h1, w0, w1, g.include_pad ? full : (h1 - h0) * (w1 - w0)};
}

// Sum of the plane rows [h0, h1) x columns [w0, w1) in opmath, row by row (the CPU's order).
template <typename T>
__device__ __forceinline__ opmath<T> window_sum(const T* xp, int64_t W, int64_t h0, int64_t h1, int64_t w0,
                                                int64_t w1, int64_t ps = 1) {
  opmath<T> s = 0;
  for (int64_t h = h0; h < h1; ++h)
    for (int64_t w = w0; w < w1; ++w) s += cvt<opmath<T>>(xp[(h * W + w) * ps]);
  return s;
}

template <typename T>
__global__ void avg_pool_kernel(const T* __restrict__ X, T* __restrict__ Y, Geo g, int64_t total) {
  using A = opmath<T>;
  DS_GRID_LOOP(i, total) {
    int64_t ow = i % g.OW, oh = (i / g.OW) % g.OH, pl = i / (g.OW * g.OH);
    const T* xp = X + pl * g.H * g.W;
    AvgWindow win = avg_window(g, oh, ow);
    A s = window_sum(xp, g.W, win.h0, win.h1, win.w0, win.w1);
    Y[i] = cvt<T>(win.div > 0 ? s / static_cast<A>(win.div) : A(0));
  }
}

__device__ __forceinline__ int64_t floor_div(int64_t a, int64_t b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// Each input position sums grad / divisor over the windows covering it, in (oh, ow) order.
template <typename T>
__global__ void avg_pool_backward_kernel(const T* __restrict__ G, T* __restrict__ X, Geo g, int64_t total) {
  using A = opmath<T>;
  DS_GRID_LOOP(i, total) {
    int64_t w = i % g.W, h = (i / g.W) % g.H, pl = i / (g.W * g.H);
    const T* gp = G + pl * g.OH * g.OW;
    // Windows starting at oh * sh - ph within (h - kh, h]: a superset, each checked below.
    int64_t oh0 = max(floor_div(h + g.ph - g.kh, g.sh) + 1, int64_t{0}), oh1 = min(floor_div(h + g.ph, g.sh), g.OH - 1);
    int64_t ow0 = max(floor_div(w + g.pw - g.kw, g.sw) + 1, int64_t{0}), ow1 = min(floor_div(w + g.pw, g.sw), g.OW - 1);
    A acc = 0;
    for (int64_t oh = oh0; oh <= oh1; ++oh)
      for (int64_t ow = ow0; ow <= ow1; ++ow) {
        AvgWindow win = avg_window(g, oh, ow);
        if (win.div <= 0 || h < win.h0 || h >= win.h1 || w < win.w0 || w >= win.w1) continue;
        acc += cvt<A>(gp[oh * g.OW + ow]) / static_cast<A>(win.div);
      }
    X[i] = cvt<T>(acc);
  }
}

// max_pool2d's gradient: each input position sums the gradients of the windows that chose
// it, in (oh, ow) order (no atomics; any layout the forward took).
template <typename Idx>
__device__ __forceinline__ Idx floor_div_t(Idx a, Idx b) {
  Idx q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

template <typename T, typename Idx>
__global__ void max_pool_backward_kernel(const T* __restrict__ G, const int64_t* __restrict__ I, T* __restrict__ X,
                                         Geo g64, Lay L, Idx total) {
  using A = opmath<T>;
  const Idx H = g64.H, W = g64.W, OH = g64.OH, OW = g64.OW;
  const Idx kh = g64.kh, kw = g64.kw, sh = g64.sh, sw = g64.sw, ph = g64.ph, pw = g64.pw, dh = g64.dh, dw = g64.dw;
  for (Idx i = static_cast<Idx>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<Idx>(gridDim.x) * blockDim.x) {
    Idx h, w, base, ps;  // this input position, and its (n, c) plane in the output's layout
    locate<Idx>(L, i, H, W, OH, OW, h, w, base, ps);
    // Windows whose span [oh * sh - ph, oh * sh - ph + (kh - 1) dh] holds h (a superset when
    // dilated; the index check below decides).
    Idx oh0 = max(floor_div_t<Idx>(h + ph - (kh - 1) * dh + sh - 1, sh), Idx{0});
    Idx oh1 = min(floor_div_t<Idx>(h + ph, sh), OH - 1);
    Idx ow0 = max(floor_div_t<Idx>(w + pw - (kw - 1) * dw + sw - 1, sw), Idx{0});
    Idx ow1 = min(floor_div_t<Idx>(w + pw, sw), OW - 1);
    const int64_t me = static_cast<int64_t>(h) * W + w;
    A acc = 0;
    for (Idx oh = oh0; oh <= oh1; ++oh)
      for (Idx ow = ow0; ow <= ow1; ++ow) {
        Idx o = base + (oh * OW + ow) * ps;
        if (I[o] == me) acc += cvt<A>(G[o]);
      }
    X[i] = cvt<T>(acc);
  }
}

__device__ __forceinline__ int64_t start_index(int64_t o, int64_t O, int64_t I) { return (o * I) / O; }
__device__ __forceinline__ int64_t end_index(int64_t o, int64_t O, int64_t I) { return ((o + 1) * I + O - 1) / O; }

struct Adaptive {
  int64_t H, W, OH, OW;
};

template <typename T, typename Idx>
__global__ void adaptive_kernel(const T* __restrict__ X, T* __restrict__ Y, Adaptive g, Lay L, Idx total) {
  using A = opmath<T>;
  DS_GRID_LOOP_T(Idx, i, total) {
    Idx oh, ow, base, ps;
    locate<Idx>(L, i, g.OH, g.OW, g.H, g.W, oh, ow, base, ps);
    int64_t h0 = start_index(oh, g.OH, g.H), h1 = end_index(oh, g.OH, g.H);
    int64_t w0 = start_index(ow, g.OW, g.W), w1 = end_index(ow, g.OW, g.W);
    A cnt = static_cast<A>((h1 - h0) * (w1 - w0));
    A s = window_sum(X + base, g.W, h0, h1, w0, w1, ps);
    Y[i] = cvt<T>(s / cnt);
  }
}

template <typename T, typename Idx>
__global__ void adaptive_backward_kernel(const T* __restrict__ G, T* __restrict__ X, Adaptive g64, Lay L,
                                         Idx total) {
  using A = opmath<T>;
  const Idx H = g64.H, W = g64.W, OH = g64.OH, OW = g64.OW;
  DS_GRID_LOOP_T(Idx, i, total) {
    Idx h, w, base, ps;
    locate<Idx>(L, i, H, W, OH, OW, h, w, base, ps);
    const T* gp = G + base;
    // Windows containing h start at oh >= floor(h * OH / H) - 1 .. (superset, checked below).
    Idx oh0 = max((h * OH) / H - 1, Idx{0}), oh1 = min(((h + 1) * OH) / H + 1, OH - 1);
    Idx ow0 = max((w * OW) / W - 1, Idx{0}), ow1 = min(((w + 1) * OW) / W + 1, OW - 1);
    A acc = 0;
    for (Idx oh = oh0; oh <= oh1; ++oh) {
      Idx h0 = (oh * H) / OH, h1 = ((oh + 1) * H + OH - 1) / OH;  // start_index / end_index
      if (h < h0 || h >= h1) continue;
      for (Idx ow = ow0; ow <= ow1; ++ow) {
        Idx w0 = (ow * W) / OW, w1 = ((ow + 1) * W + OW - 1) / OW;
        if (w < w0 || w >= w1) continue;
        A cnt = static_cast<A>((h1 - h0) * (w1 - w0));
        acc += cvt<A>(gp[(oh * OW + ow) * ps]) / cnt;
      }
    }
    X[i] = cvt<T>(acc);
  }
}

// im2col geometry of one image (C, H, W): columns (C * KH * KW) x (OH * OW).
struct Win {
  int64_t C, H, W, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw;
};

Win unfold_window(const Shape& img, const ops::Attrs& a) {
  Ints k = a.get<Ints>("kernel"), d = a.get<Ints>("dilation", {1, 1}), p = a.get<Ints>("padding", {0, 0}),
       s = a.get<Ints>("stride", {1, 1});
  Win w{img[1], img[2], img[3], k[0], k[1], 0, 0, s[0], s[1], p[0], p[1], d[0], d[1]};
  w.OH = (w.H + 2 * w.ph - w.dh * (w.KH - 1) - 1) / w.sh + 1;
  w.OW = (w.W + 2 * w.pw - w.dw * (w.KW - 1) - 1) / w.sw + 1;
  return w;
}

// Values are only moved: raw bytes of the element's width (0 bits are 0.0 in every float type).
template <typename U>
__global__ void unfold_kernel(const U* __restrict__ X, U* __restrict__ Y, Win g, int64_t total) {
  DS_GRID_LOOP(i, total) {
    int64_t L = g.OH * g.OW, rows = g.C * g.KH * g.KW;
    int64_t l = i % L, rest = i / L;
    int64_t row = rest % rows, n = rest / rows;
    int64_t kw = row % g.KW, kh = (row / g.KW) % g.KH, c = row / (g.KW * g.KH);
    int64_t oh = l / g.OW, ow = l % g.OW;
    int64_t h = oh * g.sh - g.ph + kh * g.dh, w = ow * g.sw - g.pw + kw * g.dw;
    Y[i] = (h >= 0 && h < g.H && w >= 0 && w < g.W) ? X[((n * g.C + c) * g.H + h) * g.W + w] : U(0);
  }
}

// Each image position sums the columns that read it, in (kh, kw) order with the CPU's
// per-step rounding.
template <typename T>
__global__ void fold_kernel(const T* __restrict__ Cols, T* __restrict__ X, Win g, int64_t total) {
  using A = opmath<T>;
  DS_GRID_LOOP(i, total) {
    int64_t w = i % g.W, h = (i / g.W) % g.H, rest = i / (g.W * g.H);
    int64_t c = rest % g.C, n = rest / g.C;
    int64_t L = g.OH * g.OW;
    const T* cols = Cols + n * g.C * g.KH * g.KW * L;
    T acc = cvt<T>(0.0f);
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      int64_t hh = h + g.ph - kh * g.dh;
      if (hh < 0 || hh % g.sh != 0) continue;
      int64_t oh = hh / g.sh;
      if (oh >= g.OH) continue;
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        int64_t ww = w + g.pw - kw * g.dw;
        if (ww < 0 || ww % g.sw != 0) continue;
        int64_t ow = ww / g.sw;
        if (ow >= g.OW) continue;
        T v = cols[((c * g.KH + kh) * g.KW + kw) * L + oh * g.OW + ow];
        acc = cvt<T>(cvt<A>(acc) + cvt<A>(v));
      }
    }
    X[i] = acc;
  }
}

#undef DS_GRID_LOOP

cudaStream_t stream_of(const Tensor& t) { return current_stream(t.device().index); }

template <typename T>
T* ptr(const Tensor& t) {
  return static_cast<T*>(t.raw_data());
}

void max_pool_op(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  Geo g = pool_geo(x.sizes(), out[0].sizes(), a);
  int64_t total = out[0].numel();
  if (total == 0) return;
  Lay L = lay_of(x);
  MemoryFormat f = L.nhwc ? MemoryFormat::channels_last : MemoryFormat::contiguous;
  DS_CHECK(x.is_contiguous(f) && out[0].is_contiguous(f) && out[1].is_contiguous(f),
           "[max_pool2d] expects contiguous or channels_last tensors, all in one layout");
  DeviceGuard dg(x.device().index);
  visit_cuda_floating(x.dtype(), "max_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_indexed(total, x.numel(), [&](auto idx) {
      using Idx = decltype(idx);
      max_pool_kernel<T, Idx><<<blocks_for(total, kThreads), kThreads, 0, stream_of(x)>>>(
          ptr<T>(x), ptr<T>(out[0]), ptr<int64_t>(out[1]), g, L, static_cast<Idx>(total));
    });
  });
  DS_CUDA_LAUNCH_CHECK();
}

// inputs: grad (N, C, OH, OW), indices; output: the input's gradient, in their layout.
void max_pool_backward_op(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor &gy = in[0], &idx = in[1], &gx = out[0];
  Geo g = pool_geo(gx.sizes(), gy.sizes(), a);
  int64_t total = gx.numel();
  if (total == 0) return;
  Lay L = lay_of(gx);
  MemoryFormat f = L.nhwc ? MemoryFormat::channels_last : MemoryFormat::contiguous;
  DS_CHECK(gy.is_contiguous(f) && idx.is_contiguous(f) && gx.is_contiguous(f),
           "[max_pool2d_backward] expects contiguous or channels_last tensors, all in one layout");
  DeviceGuard dg(gy.device().index);
  visit_cuda_floating(gy.dtype(), "max_pool2d_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_indexed(total, gy.numel(), [&](auto ix) {
      using Idx = decltype(ix);
      max_pool_backward_kernel<T, Idx><<<blocks_for(total, kThreads), kThreads, 0, stream_of(gy)>>>(
          ptr<T>(gy), ptr<int64_t>(idx), ptr<T>(gx), g, L, static_cast<Idx>(total));
    });
  });
  DS_CUDA_LAUNCH_CHECK();
}

void avg_pool_op(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  Geo g = pool_geo(x.sizes(), out[0].sizes(), a);
  int64_t total = out[0].numel();
  if (total == 0) return;
  DS_CHECK(x.is_contiguous() && out[0].is_contiguous(), "[avg_pool2d] expects contiguous tensors");
  DeviceGuard dg(x.device().index);
  visit_cuda_floating(x.dtype(), "avg_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    avg_pool_kernel<T><<<blocks_for(total, kThreads), kThreads, 0, stream_of(x)>>>(ptr<T>(x), ptr<T>(out[0]), g, total);
  });
  DS_CUDA_LAUNCH_CHECK();
}

void avg_pool_backward_op(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& gy = in[0];
  const Tensor& gx = out[0];
  Geo g = pool_geo(gx.sizes(), gy.sizes(), a);
  int64_t total = gx.numel();
  if (total == 0) return;
  DS_CHECK(gy.is_contiguous() && gx.is_contiguous(), "[avg_pool2d_backward] expects contiguous tensors");
  DeviceGuard dg(gy.device().index);
  visit_cuda_floating(gy.dtype(), "avg_pool2d_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    avg_pool_backward_kernel<T><<<blocks_for(total, kThreads), kThreads, 0, stream_of(gy)>>>(ptr<T>(gy), ptr<T>(gx),
                                                                                              g, total);
  });
  DS_CUDA_LAUNCH_CHECK();
}

template <bool Backward>
void adaptive_op(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs&) {
  const Tensor& src = in[0];
  const Tensor& dst = out[0];
  const Shape& big = Backward ? dst.sizes() : src.sizes();
  const Shape& small = Backward ? src.sizes() : dst.sizes();
  Adaptive g{big[2], big[3], small[2], small[3]};
  int64_t total = dst.numel();
  if (total == 0) return;
  // The layout is the bigger tensor's (the small one is often (N, C, 1, 1): both layouts at once).
  Lay L = lay_of(Backward ? dst : src);
  MemoryFormat f = L.nhwc ? MemoryFormat::channels_last : MemoryFormat::contiguous;
  DS_CHECK(src.is_contiguous(f) && dst.is_contiguous(f),
           "[adaptive_avg_pool2d] expects contiguous or channels_last tensors, both in one layout");
  DeviceGuard dg(src.device().index);
  visit_cuda_floating(src.dtype(), "adaptive_avg_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_indexed(total, src.numel(), [&](auto idx) {
      using Idx = decltype(idx);
      if constexpr (Backward)
        adaptive_backward_kernel<T, Idx><<<blocks_for(total, kThreads), kThreads, 0, stream_of(src)>>>(
            ptr<T>(src), ptr<T>(dst), g, L, static_cast<Idx>(total));
      else
        adaptive_kernel<T, Idx><<<blocks_for(total, kThreads), kThreads, 0, stream_of(src)>>>(
            ptr<T>(src), ptr<T>(dst), g, L, static_cast<Idx>(total));
    });
  });
  DS_CUDA_LAUNCH_CHECK();
}

void unfold_op(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  Win w = unfold_window(x.sizes(), a);
  int64_t total = out[0].numel();
  if (total == 0) return;
  DS_CHECK(x.is_contiguous() && out[0].is_contiguous(), "[unfold] expects contiguous tensors");
  DS_CHECK(is_floating(x.dtype()), "[unfold] expects a floating-point tensor on CUDA, got ", dtype_name(x.dtype()));
  DeviceGuard dg(x.device().index);
  visit_width(x.element_size(), [&](auto tag) {
    using U = typename decltype(tag)::type;
    unfold_kernel<U><<<blocks_for(total, kThreads), kThreads, 0, stream_of(x)>>>(ptr<U>(x), ptr<U>(out[0]), w, total);
  });
  DS_CUDA_LAUNCH_CHECK();
}

void fold_op(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = out[0];
  Win w = unfold_window(x.sizes(), a);
  int64_t total = x.numel();
  if (total == 0) return;
  DS_CHECK(in[0].is_contiguous() && x.is_contiguous(), "[fold] expects contiguous tensors");
  DeviceGuard dg(x.device().index);
  visit_cuda_floating(x.dtype(), "fold", [&](auto tag) {
    using T = typename decltype(tag)::type;
    fold_kernel<T><<<blocks_for(total, kThreads), kThreads, 0, stream_of(x)>>>(ptr<T>(in[0]), ptr<T>(x), w, total);
  });
  DS_CUDA_LAUNCH_CHECK();
}

void register_pool_kernels() {
  register_cuda_kernel("max_pool2d_with_indices", max_pool_op);
  register_cuda_kernel("max_pool2d_backward", max_pool_backward_op);
  register_cuda_kernel("avg_pool2d", avg_pool_op);
  register_cuda_kernel("avg_pool2d_backward", avg_pool_backward_op);
  register_cuda_kernel("adaptive_avg_pool2d", adaptive_op<false>);
  register_cuda_kernel("adaptive_avg_pool2d_backward", adaptive_op<true>);
  register_cuda_kernel("unfold", unfold_op);
  register_cuda_kernel("fold", fold_op);
}

}  // namespace
}  // namespace deepseek::cuda

DS_REGISTER(deepseek::cuda::register_pool_kernels);
