// sort and topk kernels: each row along `dim` is sorted as a permutation of indices (stable
// sort; topk uses partial_sort with ties broken by index), rows in parallel.
#include <algorithm>
#include <cmath>

#include "deepseek/backend/cpu/index_common.h"
#include "deepseek/ops/registry.h"

namespace deepseek::cpu {
namespace {

template <typename V>
inline bool is_nan(V v) {
  if constexpr (std::is_floating_point_v<V>) return std::isnan(v);
  else return false;
}

// a comes before b: ascending puts NaN last, descending puts NaN first.
template <typename V>
inline bool before(V a, V b, bool descending) {
  if (descending) return is_nan(a) ? !is_nan(b) : (!is_nan(b) && a > b);
  return is_nan(b) ? !is_nan(a) : (!is_nan(a) && a < b);
}

// For each row along `dim`: rank the n values, write the first k (values + indices).
void sort_rows(const Tensor& x, Tensor& values, Tensor& indices, int64_t dim, int64_t k,
               bool descending, bool partial) {
  if (values.numel() == 0) return;
  if (x.dim() == 0) {
    copy_same_dtype(values, x);
    indices.data<int64_t>()[0] = 0;
    return;
  }
  int64_t n = x.sizes()[dim], xs = x.strides()[dim], os = values.strides()[dim];
  Shape kept;
  Strides kx, ko;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d != dim) {
      kept.push_back(x.sizes()[d]);
      kx.push_back(x.strides()[d]);
      ko.push_back(values.strides()[d]);
    }
  int64_t rows = numel(kept);
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using V = opmath_t<T>;
    const T* src = x.data<T>();
    T* vout = values.data<T>();
    int64_t* iout = indices.data<int64_t>();
    parallel_for(0, rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, n * 8)), [&](int64_t b, int64_t e) {
      std::vector<V> v(n);
      std::vector<int64_t> perm(n);
      for (int64_t r = b; r < e; ++r) {
        int64_t xo = 0, oo = 0, rest = r;
        for (int64_t d = static_cast<int64_t>(kept.size()) - 1; d >= 0; --d) {
          int64_t i = rest % kept[d];
          rest /= kept[d];
          xo += i * kx[d];
          oo += i * ko[d];
        }
        for (int64_t i = 0; i < n; ++i) {
          v[i] = static_cast<V>(src[xo + i * xs]);
          perm[i] = i;
        }
        if (partial) {
          auto cmp = [&](int64_t a, int64_t c) {
            if (before(v[a], v[c], descending)) return true;
            if (before(v[c], v[a], descending)) return false;
            return a < c;
          };
          std::partial_sort(perm.begin(), perm.begin() + k, perm.end(), cmp);
        } else {
          std::stable_sort(perm.begin(), perm.end(),
                           [&](int64_t a, int64_t c) { return before(v[a], v[c], descending); });
        }
        for (int64_t i = 0; i < k; ++i) {
          vout[oo + i * os] = src[xo + perm[i] * xs];
          iout[oo + i * os] = perm[i];
        }
      }
    });
  });
}

void sort_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  int64_t dim = wrap_dim(a.get<int64_t>("dim"), x.dim(), "sort");
  int64_t n = x.dim() == 0 ? 1 : x.sizes()[dim];
  sort_rows(x, out[0], out[1], dim, n, a.get<bool>("descending", false), false);
}

void topk_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  int64_t dim = wrap_dim(a.get<int64_t>("dim"), x.dim(), "topk");
  sort_rows(x, out[0], out[1], dim, a.get<int64_t>("k"), a.get<bool>("largest", true), true);
}

void install() {
  auto& r = ops::Registry::get();
  r.register_kernel("sort", DeviceType::cpu, sort_kernel);
  r.register_kernel("topk", DeviceType::cpu, topk_kernel);
}
DS_REGISTER(install);

}  // namespace
}  // namespace deepseek::cpu
