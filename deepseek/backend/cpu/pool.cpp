// Pooling and im2col kernels on contiguous (N, C, H, W) tensors (the op definitions make their
// inputs contiguous; channels_last max/adaptive pooling is copied to row-major for now), one OpenMP task per (n, c) plane.
// max_pool2d_backward scatters each plane's window gradients through the saved indices. Pooling is memory-bound and these
// loops read each input once per window, as PyTorch's own CPU kernels do; max pooling returns
// PyTorch's indices (flat positions in the H*W plane), which its backward scatters through.
#include <emmintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "deepseek/backend/cpu/im2col.h"
#include "deepseek/backend/cpu/row_major.h"
#include "deepseek/backend/cpu/loops.h"
#include "deepseek/ops/registry.h"

namespace deepseek::cpu {
namespace {
using Ints = std::vector<int64_t>;

struct Pool {
  int64_t N, C, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw;
  bool include_pad;
};

Pool pool_geo(const Shape& in, const Shape& out, const ops::Attrs& a) {
  Ints k = a.get<Ints>("kernel"), s = a.get<Ints>("stride", k), p = a.get<Ints>("padding", {0, 0});
  Ints d = a.get<Ints>("dilation", {1, 1});
  return {in[0], in[1], in[2], in[3], out[2], out[3], k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1],
          a.get<bool>("count_include_pad", true)};
}

template <typename F>
void planes(int64_t n, int64_t work_per_plane, F f) {
  int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(work_per_plane, 1));
  parallel_for(0, n, grain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) f(i);
  });
}

template <typename F>
void floating(DType t, F f) {
  switch (t) {
    case DType::f32: return f(TypeTag<float>{});
    case DType::f64: return f(TypeTag<double>{});
    case DType::f16: return f(TypeTag<Half>{});
    case DType::bf16: return f(TypeTag<BFloat16>{});
    default: DS_THROW("expects a floating-point tensor, got ", dtype_name(t));
  }
}

// Four 2x2/2 windows at a time with SSE2 (baseline x86-64): even/odd columns split by
// shuffles, selects by masks. Same choice as the scalar loop: first NaN wins, else first max.
// Returns how many outputs of the row it wrote.
int64_t max_pool_2x2_sse(const float* r0, const float* r1, float* y, int64_t* idx, int64_t ow_n,
                         int64_t row0, int64_t W) {
  int64_t ow = 0;
  const __m128i kW = _mm_set1_epi32(static_cast<int32_t>(W)), kW1 = _mm_set1_epi32(static_cast<int32_t>(W + 1));
  const __m128i k1 = _mm_set1_epi32(1);
  for (; ow + 4 <= ow_n; ow += 4) {
    __m128 a0 = _mm_loadu_ps(r0 + 2 * ow), a1 = _mm_loadu_ps(r0 + 2 * ow + 4);
    __m128 b0 = _mm_loadu_ps(r1 + 2 * ow), b1 = _mm_loadu_ps(r1 + 2 * ow + 4);
    __m128 v0 = _mm_shuffle_ps(a0, a1, _MM_SHUFFLE(2, 0, 2, 0)), v1 = _mm_shuffle_ps(a0, a1, _MM_SHUFFLE(3, 1, 3, 1));
    __m128 v2 = _mm_shuffle_ps(b0, b1, _MM_SHUFFLE(2, 0, 2, 0)), v3 = _mm_shuffle_ps(b0, b1, _MM_SHUFFLE(3, 1, 3, 1));
    __m128 best = v0;
    __m128i k = _mm_setzero_si128();
    auto take = [&](__m128 v, __m128i kv) {
      __m128 u = _mm_and_ps(_mm_cmpord_ps(best, best), _mm_or_ps(_mm_cmpgt_ps(v, best), _mm_cmpunord_ps(v, v)));
      best = _mm_or_ps(_mm_and_ps(u, v), _mm_andnot_ps(u, best));
      __m128i ui = _mm_castps_si128(u);
      k = _mm_or_si128(_mm_and_si128(ui, kv), _mm_andnot_si128(ui, k));
    };
    take(v1, k1);
    take(v2, kW);
    take(v3, kW1);
    _mm_storeu_ps(y + ow, best);
    alignas(16) int32_t kk[4];
    _mm_store_si128(reinterpret_cast<__m128i*>(kk), k);
    for (int j = 0; j < 4; ++j) idx[ow + j] = row0 + 2 * (ow + j) + kk[j];
  }
  return ow;
}

void max_pool_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  Pool g = pool_geo(x.sizes(), out[0].sizes(), a);
  floating(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = opmath_t<T>;
    const T* X = x.data<T>();
    T* Y = out[0].data<T>();
    int64_t* I = out[1].data<int64_t>();
    const bool k2s2 = g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.ph == 0 && g.pw == 0 &&
                      g.dh == 1 && g.dw == 1 && 2 * g.OH <= g.H && 2 * g.OW <= g.W;
    planes(g.N * g.C, g.OH * g.OW * g.kh * g.kw, [&](int64_t pl) {
      const T* xp = X + pl * g.H * g.W;
      T* yp = Y + pl * g.OH * g.OW;
      int64_t* ip = I + pl * g.OH * g.OW;
      if (k2s2) {  // the common 2x2/2 window without bounds checks; same choice as the loop below
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const T* r0 = xp + 2 * oh * g.W;
          const T* r1 = r0 + g.W;
          int64_t* iq = ip + oh * g.OW;
          T* yq = yp + oh * g.OW;
          const int64_t row0 = 2 * oh * g.W;
          // Branch-free selects (the comparisons are data-dependent coin flips).
          int64_t ow = 0;
          if constexpr (std::is_same_v<T, float>) ow = max_pool_2x2_sse(r0, r1, yq, iq, g.OW, row0, g.W);
          for (; ow < g.OW; ++ow) {
            A v0 = static_cast<A>(r0[2 * ow]), v1 = static_cast<A>(r0[2 * ow + 1]);
            A v2 = static_cast<A>(r1[2 * ow]), v3 = static_cast<A>(r1[2 * ow + 1]);
            A best = v0;
            int64_t k = 0;
            bool u = (best == best) & ((v1 > best) | (v1 != v1));  // first NaN wins, else first max
            best = u ? v1 : best;
            k = u ? 1 : k;
            u = (best == best) & ((v2 > best) | (v2 != v2));
            best = u ? v2 : best;
            k = u ? g.W : k;
            u = (best == best) & ((v3 > best) | (v3 != v3));
            best = u ? v3 : best;
            k = u ? g.W + 1 : k;
            yq[ow] = T(best);
            iq[ow] = row0 + 2 * ow + k;
          }
        }
        return;
      }
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          A best = -std::numeric_limits<A>::infinity();
          int64_t arg = -1;
          for (int64_t i = 0; i < g.kh; ++i) {
            int64_t h = oh * g.sh - g.ph + i * g.dh;
            if (h < 0 || h >= g.H) continue;
            for (int64_t j = 0; j < g.kw; ++j) {
              int64_t w = ow * g.sw - g.pw + j * g.dw;
              if (w < 0 || w >= g.W) continue;
              A v = static_cast<A>(xp[h * g.W + w]);
              if (arg < 0 || v > best || std::isnan(v)) {
                best = v;
                arg = h * g.W + w;
                if (std::isnan(v)) goto done;
              }
            }
          }
        done:
          yp[oh * g.OW + ow] = T(best);
          ip[oh * g.OW + ow] = arg;
        }
    });
  });
}

// Visits each window: f(out_index, h0, h1, w0, w1, divisor).
template <typename F>
void avg_windows(const Pool& g, F f) {
  for (int64_t oh = 0; oh < g.OH; ++oh)
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
      int64_t h1 = std::min(h0 + g.kh, g.H + g.ph), w1 = std::min(w0 + g.kw, g.W + g.pw);
      int64_t full = (h1 - h0) * (w1 - w0);
      h0 = std::max<int64_t>(h0, 0), w0 = std::max<int64_t>(w0, 0);
      h1 = std::min(h1, g.H), w1 = std::min(w1, g.W);
      int64_t div = g.include_pad ? full : (h1 - h0) * (w1 - w0);
      f(oh * g.OW + ow, h0, h1, w0, w1, div);
    }
}

void avg_pool_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  Pool g = pool_geo(x.sizes(), out[0].sizes(), a);
  floating(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = opmath_t<T>;
    const T* X = x.data<T>();
    T* Y = out[0].data<T>();
    planes(g.N * g.C, g.OH * g.OW * g.kh * g.kw, [&](int64_t pl) {
      const T* xp = X + pl * g.H * g.W;
      T* yp = Y + pl * g.OH * g.OW;
      avg_windows(g, [&](int64_t o, int64_t h0, int64_t h1, int64_t w0, int64_t w1, int64_t div) {
        A s = 0;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) s += static_cast<A>(xp[h * g.W + w]);
        yp[o] = T(div > 0 ? s / static_cast<A>(div) : A(0));
      });
    });
  });
}

void avg_pool_backward_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& gy = in[0];
  Tensor& gx = out[0];
  Pool g = pool_geo(gx.sizes(), gy.sizes(), a);
  floating(gy.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = opmath_t<T>;
    const T* G = gy.data<T>();
    T* X = gx.data<T>();
    planes(g.N * g.C, g.OH * g.OW * g.kh * g.kw, [&](int64_t pl) {
      const T* gp = G + pl * g.OH * g.OW;
      T* xp = X + pl * g.H * g.W;
      std::vector<A> acc(static_cast<size_t>(g.H * g.W), A(0));
      avg_windows(g, [&](int64_t o, int64_t h0, int64_t h1, int64_t w0, int64_t w1, int64_t div) {
        if (div <= 0) return;
        A v = static_cast<A>(gp[o]) / static_cast<A>(div);
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) acc[h * g.W + w] += v;
      });
      for (int64_t i = 0; i < g.H * g.W; ++i) xp[i] = T(acc[i]);
    });
  });
}

inline int64_t start_index(int64_t o, int64_t O, int64_t I) { return (o * I) / O; }
inline int64_t end_index(int64_t o, int64_t O, int64_t I) { return ((o + 1) * I + O - 1) / O; }

// forward: out[o] = mean(in[window(o)]); backward: scatter each grad evenly over its window.
template <bool Backward>
void adaptive_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs&) {
  const Tensor& src = in[0];
  Tensor& dst = out[0];
  const Shape& big = Backward ? dst.sizes() : src.sizes();
  const Shape& small = Backward ? src.sizes() : dst.sizes();
  int64_t H = big[2], W = big[3], OH = small[2], OW = small[3];
  floating(src.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = opmath_t<T>;
    const T* S = src.data<T>();
    T* D = dst.data<T>();
    planes(big[0] * big[1], H * W, [&](int64_t pl) {
      std::vector<A> acc;
      if constexpr (Backward) acc.assign(static_cast<size_t>(H * W), A(0));
      for (int64_t oh = 0; oh < OH; ++oh) {
        int64_t h0 = start_index(oh, OH, H), h1 = end_index(oh, OH, H);
        for (int64_t ow = 0; ow < OW; ++ow) {
          int64_t w0 = start_index(ow, OW, W), w1 = end_index(ow, OW, W);
          A cnt = static_cast<A>((h1 - h0) * (w1 - w0));
          if constexpr (Backward) {
            A v = static_cast<A>(S[pl * OH * OW + oh * OW + ow]) / cnt;
            for (int64_t h = h0; h < h1; ++h)
              for (int64_t w = w0; w < w1; ++w) acc[h * W + w] += v;
          } else {
            A s = 0;
            const T* xp = S + pl * H * W;
            for (int64_t h = h0; h < h1; ++h)
              for (int64_t w = w0; w < w1; ++w) s += static_cast<A>(xp[h * W + w]);
            D[pl * OH * OW + oh * OW + ow] = T(s / cnt);
          }
        }
      }
      if constexpr (Backward)
        for (int64_t i = 0; i < H * W; ++i) D[pl * H * W + i] = T(acc[i]);
    });
  });
}

Window2d unfold_window(const Shape& img, const ops::Attrs& a) {
  Ints k = a.get<Ints>("kernel"), d = a.get<Ints>("dilation", {1, 1}), p = a.get<Ints>("padding", {0, 0}),
       s = a.get<Ints>("stride", {1, 1});
  Window2d w{img[1], img[2], img[3], k[0], k[1], 0, 0, s[0], s[1], p[0], p[1], d[0], d[1]};
  w.OH = (w.H + 2 * w.ph - w.dh * (w.KH - 1) - 1) / w.sh + 1;
  w.OW = (w.W + 2 * w.pw - w.dw * (w.KW - 1) - 1) / w.sw + 1;
  return w;
}

void unfold_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  Window2d w = unfold_window(x.sizes(), a);
  floating(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* X = x.data<T>();
    T* Y = out[0].data<T>();
    int64_t cols = w.C * w.KH * w.KW * w.OH * w.OW;
    planes(x.sizes()[0], cols, [&](int64_t n) { im2col(X + n * w.C * w.H * w.W, w, Y + n * cols); });
  });
}

void fold_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  Tensor& x = out[0];
  Window2d w = unfold_window(x.sizes(), a);
  if (x.numel() > 0) std::memset(x.raw_data(), 0, x.nbytes());
  floating(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* C = in[0].data<T>();
    T* X = x.data<T>();
    int64_t cols = w.C * w.KH * w.KW * w.OH * w.OW;
    planes(x.sizes()[0], cols, [&](int64_t n) { col2im(C + n * cols, w, X + n * w.C * w.H * w.W); });
  });
}

// max_pool2d's gradient: each (n, c) plane zeroed, then the window gradients added at the
// saved indices in output order (one task per plane: deterministic, no sort), as the
// scatter_add it replaces but without its whole-tensor passes.
void max_pool_backward_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs&) {
  const Tensor &g = in[0], &idx = in[1];
  Tensor& gx = out[0];
  const int64_t planes_n = gx.sizes()[0] * gx.sizes()[1];
  const int64_t plane = gx.sizes()[2] * gx.sizes()[3], oplane = g.sizes()[2] * g.sizes()[3];
  floating(g.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = opmath_t<T>;
    const T* G = g.data<T>();
    const int64_t* I = idx.data<int64_t>();
    T* X = gx.data<T>();
    planes(planes_n, oplane, [&](int64_t pl) {
      T* xp = X + pl * plane;
      std::fill(xp, xp + plane, T(0));
      const T* gp = G + pl * oplane;
      const int64_t* ip = I + pl * oplane;
      for (int64_t o = 0; o < oplane; ++o) xp[ip[o]] = static_cast<T>(static_cast<A>(xp[ip[o]]) + static_cast<A>(gp[o]));
    });
  });
}

void install() {
  auto& r = ops::Registry::get();
  r.register_kernel("max_pool2d_backward", DeviceType::cpu, row_major_kernel(max_pool_backward_kernel));
  // channels_last tensors go through row-major copies here (row_major.h)
  r.register_kernel("max_pool2d_with_indices", DeviceType::cpu, row_major_kernel(max_pool_kernel));
  r.register_kernel("avg_pool2d", DeviceType::cpu, avg_pool_kernel);
  r.register_kernel("avg_pool2d_backward", DeviceType::cpu, avg_pool_backward_kernel);
  r.register_kernel("adaptive_avg_pool2d", DeviceType::cpu, row_major_kernel(adaptive_kernel<false>));
  r.register_kernel("adaptive_avg_pool2d_backward", DeviceType::cpu, row_major_kernel(adaptive_kernel<true>));
  r.register_kernel("unfold", DeviceType::cpu, unfold_kernel);
  r.register_kernel("fold", DeviceType::cpu, fold_kernel);
}
DS_REGISTER(install);

}  // namespace
}  // namespace deepseek::cpu
