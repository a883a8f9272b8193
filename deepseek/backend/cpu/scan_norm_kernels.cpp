// cumsum and norm kernels. cumsum accumulates floating values in double (as PyTorch's CPU
// kernel) and integers in i64; when the scanned dim is not innermost, whole rows are added at
// once so the loop vectorizes across the inner dims. norm reduces rows of a layout where the
// reduced dims are innermost (a contiguous copy is made when they are not).
#include <cmath>
#include <limits>

#include "deepseek/backend/cpu/index_common.h"
#include "deepseek/ops/registry.h"

namespace deepseek::cpu {
namespace {

template <typename T>
using ScanAcc = std::conditional_t<std::is_floating_point_v<opmath_t<T>>, double, int64_t>;

void cumsum_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  Tensor x = contiguous_copy(in[0]);
  Tensor& y = out[0];
  if (y.numel() == 0) return;
  int64_t d = wrap_dim(a.get<int64_t>("dim"), x.dim(), "cumsum");
  int64_t outer = 1, n = x.dim() == 0 ? 1 : x.sizes()[d], inner = 1;
  for (int64_t k = 0; k < x.dim(); ++k) {
    if (k < d) outer *= x.sizes()[k];
    if (k > d) inner *= x.sizes()[k];
  }
  Tensor yc = y.is_contiguous() ? y : Tensor::empty(y.sizes(), y.dtype(), y.device());
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using Acc = ScanAcc<T>;
    visit_dtype(y.dtype(), [&](auto otag) {
      using O = typename decltype(otag)::type;
      const T* src = x.data<T>();
      O* dst = yc.data<O>();
      auto to_out = [](Acc v) { return static_cast<O>(static_cast<opmath_t<O>>(v)); };
      if (inner == 1) {
        parallel_for(0, outer, std::max<int64_t>(1, kGrain / n), [&](int64_t b, int64_t e) {
          for (int64_t o = b; o < e; ++o) {
            Acc acc = 0;
            const T* p = src + o * n;
            O* q = dst + o * n;
            for (int64_t i = 0; i < n; ++i) {
              acc += static_cast<Acc>(static_cast<opmath_t<T>>(p[i]));
              q[i] = to_out(acc);
            }
          }
        });
        return;
      }
      parallel_for(0, outer * inner, kGrain / 8, [&](int64_t b, int64_t e) {
        // Units are (outer index, inner column range); columns scan independently.
        std::vector<Acc> acc;
        for (int64_t pos = b; pos < e;) {
          int64_t o = pos / inner, j0 = pos % inner, j1 = std::min(inner, j0 + (e - pos));
          int64_t w = j1 - j0;
          acc.assign(w, Acc(0));
          for (int64_t i = 0; i < n; ++i) {
            const T* p = src + (o * n + i) * inner + j0;
            O* q = dst + (o * n + i) * inner + j0;
            for (int64_t j = 0; j < w; ++j) {
              acc[j] += static_cast<Acc>(static_cast<opmath_t<T>>(p[j]));
              q[j] = to_out(acc[j]);
            }
          }
          pos += w;
        }
      });
    });
  });
  if (!yc.is_same(y)) copy_same_dtype(y, yc);
}

// Accumulates one row of n contiguous values for the p-norm.
template <typename T>
double norm_row(const T* p, int64_t n, double pw) {
  using V = opmath_t<T>;
  auto at = [&](int64_t i) { return static_cast<double>(static_cast<V>(p[i])); };
  if (pw == 2) {
    double s[4] = {0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
      for (int k = 0; k < 4; ++k) s[k] += at(i + k) * at(i + k);
    double r = (s[0] + s[1]) + (s[2] + s[3]);
    for (; i < n; ++i) r += at(i) * at(i);
    return std::sqrt(r);
  }
  if (pw == 1) {
    double r = 0;
    for (int64_t i = 0; i < n; ++i) r += std::abs(at(i));
    return r;
  }
  if (std::isinf(pw)) {
    double r = pw > 0 ? 0.0 : std::numeric_limits<double>::infinity();
    for (int64_t i = 0; i < n; ++i) {
      double v = std::abs(at(i));
      if (std::isnan(v)) return v;
      r = pw > 0 ? std::max(r, v) : std::min(r, v);
    }
    return r;
  }
  if (pw == 0) {
    double r = 0;
    for (int64_t i = 0; i < n; ++i) r += at(i) != 0;
    return r;
  }
  double r = 0;
  for (int64_t i = 0; i < n; ++i) r += std::pow(std::abs(at(i)), pw);
  return std::pow(r, 1.0 / pw);
}

void norm_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  double pw = a.get<double>("p");
  auto mask = dims_mask(a.get<std::vector<int64_t>>("dims", {}), x.dim(), "norm");
  // View x with kept dims first and reduced dims last; copy when that is not contiguous.
  Shape s;
  Strides st;
  int64_t n_red = 1;
  for (int pass = 0; pass < 2; ++pass)
    for (int64_t d = 0; d < x.dim(); ++d)
      if (static_cast<bool>(mask[d]) == (pass == 1)) {
        s.push_back(x.sizes()[d]);
        st.push_back(x.strides()[d]);
        if (pass == 1) n_red *= x.sizes()[d];
      }
  Tensor xv = contiguous_copy(Tensor::make(x.storage(), s, st, x.offset(), x.dtype()));
  Tensor& y = out[0];
  Tensor yc = y.is_contiguous() ? y : Tensor::empty(y.sizes(), y.dtype(), y.device());
  int64_t rows = yc.numel();
  visit_floating(x.dtype(), "norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* src = xv.data<T>();
    T* dst = yc.data<T>();
    int64_t chunks = std::min<int64_t>(num_threads(), n_red / kGrain);
    bool additive = !std::isinf(pw);
    if (rows < num_threads() && chunks > 1) {
      // Few long rows: split each over threads, merge the partial sums (or maxima) in a
      // fixed order so the result does not depend on scheduling.
      for (int64_t r = 0; r < rows; ++r) {
        std::vector<double> part(chunks);
        int64_t per = (n_red + chunks - 1) / chunks;
        double q = (pw == 0 || pw == 1 || std::isinf(pw)) ? 1.0 : pw;
        parallel_for(0, chunks, 1, [&](int64_t b, int64_t e) {
          for (int64_t c = b; c < e; ++c) {
            int64_t s0 = c * per, s1 = std::min(n_red, s0 + per);
            double v = s0 < s1 ? norm_row(src + r * n_red + s0, s1 - s0, pw) : (pw < 0 ? INFINITY : 0.0);
            part[c] = additive ? std::pow(v, q) : v;  // back to a sum of |x|^p
          }
        });
        double acc = part[0];
        for (int64_t c = 1; c < chunks; ++c)
          acc = std::isnan(part[c]) || additive ? acc + part[c]
                : (pw > 0 ? std::max(acc, part[c]) : std::min(acc, part[c]));
        dst[r] = static_cast<T>(static_cast<opmath_t<T>>(additive ? std::pow(acc, 1.0 / q) : acc));
      }
      return;
    }
    parallel_for(0, rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, n_red)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r)
        dst[r] = static_cast<T>(static_cast<opmath_t<T>>(norm_row(src + r * n_red, n_red, pw)));
    });
  });
  if (!yc.is_same(y)) copy_same_dtype(y, yc);
}

void install() {
  auto& r = ops::Registry::get();
  r.register_kernel("cumsum", DeviceType::cpu, cumsum_kernel);
  r.register_kernel("norm", DeviceType::cpu, norm_kernel);
}
DS_REGISTER(install);

}  // namespace
}  // namespace deepseek::cpu
