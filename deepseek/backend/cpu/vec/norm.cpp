// Fused normalization kernels: one read pass for the mean, one for the variance (two-pass,
// which keeps f32 accurate where E[x^2] - E[x]^2 would cancel) and one write pass, per row
// (layer/rms norm), per (sample, group) block (group norm) or per channel (batch norm).
// f16/bf16 accumulate in f32. The op definitions make x and the parameters contiguous.
#include <cmath>

#include "deepseek/backend/cpu/row_major.h"
#include "deepseek/backend/cpu/vec/vec.h"

namespace deepseek::cpu::DS_CPU_CAPABILITY {
namespace {

template <typename T, typename V = opmath_t<T>>
inline V block_mean(const T* p, int64_t n) {
  V s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t k = 0; k < n; ++k) s += static_cast<V>(p[k]);
  return s;
}
template <typename T, typename V = opmath_t<T>>
inline V block_sq_dev(const T* p, int64_t n, V m) {
  V s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t k = 0; k < n; ++k) {
    V d = static_cast<V>(p[k]) - m;
    s += d * d;
  }
  return s;
}

int64_t row_grain(int64_t n) { return std::max<int64_t>(1, kGrain / std::max<int64_t>(n, 1)); }

// x: (M, N) rows; y = (x - mean) * rstd * w + b. Stats out: M values in opmath type.
void layer_norm_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  int64_t k = a.get<int64_t>("normalized_ndim");
  double eps = a.get<double>("eps");
  int64_t n = 1;
  for (int64_t i = x.dim() - k; i < x.dim(); ++i) n *= x.sizes()[i];
  int64_t m = n == 0 ? 0 : x.numel() / n;
  visit_floating(x.dtype(), "layer_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using V = opmath_t<T>;
    const T* src = x.data<T>();
    const T* w = in[1].data<T>();
    const T* b = in[2].data<T>();
    T* dst = out[0].data<T>();
    V* mean_out = out[1].data<V>();
    V* rstd_out = out[2].data<V>();
    if (n == 0) {
      for (int64_t r = 0; r < out[1].numel(); ++r) mean_out[r] = 0, rstd_out[r] = 0;
      return;
    }
    parallel_for(0, m, row_grain(n), [&](int64_t rb, int64_t re) {
      for (int64_t r = rb; r < re; ++r) {
        const T* p = src + r * n;
        T* q = dst + r * n;
        V mu = block_mean(p, n) / static_cast<V>(n);
        V var = block_sq_dev(p, n, mu) / static_cast<V>(n);
        V rs = V(1) / std::sqrt(var + static_cast<V>(eps));
        mean_out[r] = mu;
        rstd_out[r] = rs;
#pragma omp simd
        for (int64_t j = 0; j < n; ++j)
          q[j] = static_cast<T>((static_cast<V>(p[j]) - mu) * rs * static_cast<V>(w[j]) +
                                static_cast<V>(b[j]));
      }
    });
  });
}

void rms_norm_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  int64_t k = a.get<int64_t>("normalized_ndim");
  double eps = a.get<double>("eps");
  int64_t n = 1;
  for (int64_t i = x.dim() - k; i < x.dim(); ++i) n *= x.sizes()[i];
  int64_t m = n == 0 ? 0 : x.numel() / n;
  visit_floating(x.dtype(), "rms_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using V = opmath_t<T>;
    const T* src = x.data<T>();
    const T* w = in[1].data<T>();
    T* dst = out[0].data<T>();
    V* rstd_out = out[1].data<V>();
    if (n == 0) {
      for (int64_t r = 0; r < out[1].numel(); ++r) rstd_out[r] = 0;
      return;
    }
    parallel_for(0, m, row_grain(n), [&](int64_t rb, int64_t re) {
      for (int64_t r = rb; r < re; ++r) {
        const T* p = src + r * n;
        T* q = dst + r * n;
        V ss = block_sq_dev(p, n, V(0));
        V rs = V(1) / std::sqrt(ss / static_cast<V>(n) + static_cast<V>(eps));
        rstd_out[r] = rs;
#pragma omp simd
        for (int64_t j = 0; j < n; ++j)
          q[j] = static_cast<T>(static_cast<V>(p[j]) * rs * static_cast<V>(w[j]));
      }
    });
  });
}

// A normalization input (N, C, *) seen as N x C planes of S values.
struct Planes {
  int64_t n, c, s;
};
Planes planes_of(const Tensor& x) {
  int64_t n = x.sizes()[0], c = x.sizes()[1];
  return {n, c, c == 0 || n == 0 ? 0 : x.numel() / (n * c)};
}

// x: (N, C, S) with C = G * Cg; block (n, g) is Cg * S contiguous elements.
void group_norm_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  int64_t groups = a.get<int64_t>("groups");
  double eps = a.get<double>("eps");
  const auto [nb, c, s] = planes_of(x);
  int64_t cg = c / groups, block = cg * s;
  visit_floating(x.dtype(), "group_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using V = opmath_t<T>;
    const T* src = x.data<T>();
    const T* w = in[1].data<T>();
    const T* b = in[2].data<T>();
    T* dst = out[0].data<T>();
    V* mean_out = out[1].data<V>();
    V* rstd_out = out[2].data<V>();
    parallel_for(0, nb * groups, row_grain(block), [&](int64_t rb, int64_t re) {
      for (int64_t r = rb; r < re; ++r) {
        const T* p = src + r * block;
        T* q = dst + r * block;
        V mu = block == 0 ? V(0) : block_mean(p, block) / static_cast<V>(block);
        V var = block == 0 ? V(0) : block_sq_dev(p, block, mu) / static_cast<V>(block);
        V rs = V(1) / std::sqrt(var + static_cast<V>(eps));
        mean_out[r] = mu;
        rstd_out[r] = rs;
        int64_t g = r % groups;
        for (int64_t cc = 0; cc < cg; ++cc) {
          int64_t ch = g * cg + cc;
          V scale = rs * static_cast<V>(w[ch]);
          V shift = static_cast<V>(b[ch]) - mu * scale;
          const T* pc = p + cc * s;
          T* qc = q + cc * s;
#pragma omp simd
          for (int64_t j = 0; j < s; ++j) qc[j] = static_cast<T>(static_cast<V>(pc[j]) * scale + shift);
        }
      }
    });
  });
}

// x: (N, C, S). Statistics per channel over N * S values (strided blocks of S).
void batch_norm_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  bool training = a.get<bool>("training");
  double eps = a.get<double>("eps");
  const auto [nb, c, s] = planes_of(x);
  int64_t count = nb * s;
  visit_floating(x.dtype(), "batch_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using V = opmath_t<T>;
    const T* src = x.data<T>();
    const T* w = in[1].data<T>();
    const T* b = in[2].data<T>();
    const V* rm = in[3].data<V>();
    const V* rv = in[4].data<V>();
    T* dst = out[0].data<T>();
    V* mean_out = out[1].data<V>();
    V* rstd_out = out[2].data<V>();
    V* var_out = out[3].data<V>();
    // Statistics: per channel (parallel over channels; each is a deterministic serial sum).
    parallel_for(0, c, row_grain(count), [&](int64_t cb, int64_t ce) {
      for (int64_t ch = cb; ch < ce; ++ch) {
        if (!training) {
          mean_out[ch] = rm[ch];
          var_out[ch] = rv[ch];
          rstd_out[ch] = V(1) / std::sqrt(rv[ch] + static_cast<V>(eps));
          continue;
        }
        V sum = 0;
        for (int64_t i = 0; i < nb; ++i) sum += block_mean(src + (i * c + ch) * s, s);
        V mu = count ? sum / static_cast<V>(count) : V(0);
        V ss = 0;
        for (int64_t i = 0; i < nb; ++i) ss += block_sq_dev(src + (i * c + ch) * s, s, mu);
        mean_out[ch] = mu;
        rstd_out[ch] = V(1) / std::sqrt((count ? ss / static_cast<V>(count) : V(0)) + static_cast<V>(eps));
        var_out[ch] = count > 1 ? ss / static_cast<V>(count - 1) : std::numeric_limits<V>::quiet_NaN();
      }
    });
    // Normalize: parallel over (n, c) planes.
    parallel_for(0, nb * c, row_grain(s), [&](int64_t pb, int64_t pe) {
      for (int64_t pl = pb; pl < pe; ++pl) {
        int64_t ch = pl % c;
        V scale = rstd_out[ch] * static_cast<V>(w[ch]);
        V shift = static_cast<V>(b[ch]) - mean_out[ch] * scale;
        const T* p = src + pl * s;
        T* q = dst + pl * s;
#pragma omp simd
        for (int64_t j = 0; j < s; ++j) q[j] = static_cast<T>(static_cast<V>(p[j]) * scale + shift);
      }
    });
  });
}

// batch_norm backward (training, no gradient into the statistics): inputs g, x (N, C, S), w,
// mean, rstd; outputs dx, dw, db. Per channel S1 = sum(g), S2 = rstd sum(g (x - mean)), then
// dx = g w rstd + (x - mean) k2 + k3 with k2 = -w rstd^2 S2 / n, k3 = -w rstd S1 / n, written
// right after the sums while the channel is still in cache: two passes over g and x instead
// of the composite's eight full-size ops. Each channel is summed serially (deterministic).
void batch_norm_backward_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out,
                                const ops::Attrs&) {
  const Tensor& x = in[1];
  const auto [nb, c, s] = planes_of(x);
  int64_t count = nb * s;
  visit_floating(x.dtype(), "batch_norm_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using V = opmath_t<T>;
    const T* gp = in[0].data<T>();
    const T* xp = x.data<T>();
    const T* w = in[2].data<T>();
    const V* mean = in[3].data<V>();
    const V* rstd = in[4].data<V>();
    T* dx = out[0].data<T>();
    T* dw = out[1].data<T>();
    T* db = out[2].data<T>();
    parallel_for(0, c, row_grain(2 * count), [&](int64_t cb, int64_t ce) {
      for (int64_t ch = cb; ch < ce; ++ch) {
        const V m = mean[ch], r = rstd[ch];
        V s1 = 0, s2 = 0;
        for (int64_t i = 0; i < nb; ++i) {
          const T* g = gp + (i * c + ch) * s;
          const T* xr = xp + (i * c + ch) * s;
#pragma omp simd reduction(+ : s1, s2)
          for (int64_t j = 0; j < s; ++j) {
            V gj = static_cast<V>(g[j]);
            s1 += gj;
            s2 += gj * (static_cast<V>(xr[j]) - m);
          }
        }
        s2 *= r;
        dw[ch] = static_cast<T>(s2);
        db[ch] = static_cast<T>(s1);
        const V inv_n = count ? V(1) / static_cast<V>(count) : V(0);
        const V wr = static_cast<V>(w[ch]) * r;
        const V k2 = -wr * r * s2 * inv_n, k3 = -wr * s1 * inv_n;
        for (int64_t i = 0; i < nb; ++i) {
          const T* g = gp + (i * c + ch) * s;
          const T* xr = xp + (i * c + ch) * s;
          T* d = dx + (i * c + ch) * s;
#pragma omp simd
          for (int64_t j = 0; j < s; ++j)
            d[j] =
                static_cast<T>(static_cast<V>(g[j]) * wr + (static_cast<V>(xr[j]) - m) * k2 + k3);
        }
      }
    });
  });
}

// Backward of layer_norm (Center = true) and rms_norm (Center = false) over rows of N:
//   xhat = (x - mean) * rstd,  gw = g * w,
//   dx = rstd * (gw - [mean(gw)] - xhat * mean(gw * xhat)),  dw = sum_rows g * xhat,  db = sum_rows g.
// dw/db are summed per fixed block of rows and the blocks merged in order, so the result does
// not depend on the thread count.
template <bool Center>
void norm_backward_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[1];
  int64_t k = a.get<int64_t>("normalized_ndim");
  int64_t n = 1;
  for (int64_t i = x.dim() - k; i < x.dim(); ++i) n *= x.sizes()[i];
  int64_t m = n == 0 ? 0 : x.numel() / n;
  const int w_in = Center ? 4 : 3;
  visit_floating(x.dtype(), Center ? "layer_norm_backward" : "rms_norm_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using V = opmath_t<T>;
    const T* gp = in[0].data<T>();
    const T* xp = x.data<T>();
    const V* mean = Center ? in[2].data<V>() : nullptr;
    const V* rstd = in[Center ? 3 : 2].data<V>();
    const T* w = in[w_in].data<T>();
    T* dx = out[0].data<T>();
    int64_t blocks = std::min<int64_t>(m, 32);
    std::vector<V> part(static_cast<size_t>(std::max<int64_t>(blocks, 1)) * n * 2, V(0));
    parallel_for(0, blocks, 1, [&](int64_t bb, int64_t be) {
      std::vector<V> gw(n), xh(n);
      for (int64_t blk = bb; blk < be; ++blk) {
        V* pw = part.data() + blk * n * 2;
        V* pb = pw + n;
        int64_t r0 = blk * m / blocks, r1 = (blk + 1) * m / blocks;
        for (int64_t r = r0; r < r1; ++r) {
          const T* g = gp + r * n;
          const T* xr = xp + r * n;
          V mu = Center ? mean[r] : V(0), rs = rstd[r];
          V s1 = 0, s2 = 0;
#pragma omp simd reduction(+ : s1, s2)
          for (int64_t j = 0; j < n; ++j) {
            V gj = static_cast<V>(g[j]);
            xh[j] = (static_cast<V>(xr[j]) - mu) * rs;
            gw[j] = gj * static_cast<V>(w[j]);
            s1 += gw[j];
            s2 += gw[j] * xh[j];
            pw[j] += gj * xh[j];
            pb[j] += gj;
          }
          V m1 = Center ? s1 / static_cast<V>(n) : V(0), m2 = s2 / static_cast<V>(n);
          T* d = dx + r * n;
#pragma omp simd
          for (int64_t j = 0; j < n; ++j) d[j] = static_cast<T>(rs * (gw[j] - m1 - xh[j] * m2));
        }
      }
    });
    T* dw = out[1].data<T>();
    T* db = Center ? out[2].data<T>() : nullptr;
    for (int64_t j = 0; j < n; ++j) {
      V sw = 0, sb = 0;
      for (int64_t blk = 0; blk < blocks; ++blk) {
        sw += part[blk * n * 2 + j];
        sb += part[blk * n * 2 + n + j];
      }
      dw[j] = static_cast<T>(sw);
      if (Center) db[j] = static_cast<T>(sb);
    }
  });
}

}  // namespace

void register_norm_kernels() {
  reg("layer_norm_backward", norm_backward_kernel<true>);
  reg("rms_norm_backward", norm_backward_kernel<false>);
  reg("layer_norm", layer_norm_kernel);
  reg("rms_norm", rms_norm_kernel);
  reg("group_norm", group_norm_kernel);
  reg("batch_norm", row_major_kernel(batch_norm_kernel));  // channels_last via row-major copies
  reg("batch_norm_backward", row_major_kernel(batch_norm_backward_kernel));
}

}  // namespace deepseek::cpu::DS_CPU_CAPABILITY
