// Fused softmax and log_softmax over one dim: one pass for the max, one for the sum of
// exponentials, one to write — instead of five separate elementwise/reduction ops.
#include <cmath>

#include "deepseek/backend/cpu/vec/vec.h"
#include "deepseek/backend/cpu/vec/vmath.h"

namespace deepseek::cpu::DS_CPU_CAPABILITY {
namespace {

template <typename V> inline V vexp(V x) {
  if constexpr (std::is_same_v<V, float>) return vmath::expf(x); else return std::exp(x);
}

template <bool Log>
void softmax_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  int64_t d = x.dim() == 0 ? 0 : wrap_dim(a.get<int64_t>("dim"), x.dim(), "softmax");
  // Input is made contiguous by the op definition; out is fresh and contiguous.
  int64_t n = x.dim() == 0 ? 1 : x.sizes()[d];
  int64_t inner = 1, outer = 1;
  for (int64_t i = d + 1; i < x.dim(); ++i) inner *= x.sizes()[i];
  for (int64_t i = 0; i < d; ++i) outer *= x.sizes()[i];
  visit_floating(x.dtype(), "softmax", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using V = opmath_t<T>;
    const T* src = x.data<T>();
    T* dst = out[0].data<T>();
    parallel_for(0, outer * inner, std::max<int64_t>(1, kGrain / std::max<int64_t>(n, 1)), [&](int64_t b, int64_t e) {
      std::vector<V> buf(n);
      for (int64_t r = b; r < e; ++r) {
        int64_t o = r / inner, i = r % inner;
        const T* p = src + o * n * inner + i;
        T* q = dst + o * n * inner + i;
        V m = -std::numeric_limits<V>::infinity();
        for (int64_t k = 0; k < n; ++k) {
          buf[k] = static_cast<V>(p[k * inner]);
          m = buf[k] > m ? buf[k] : m;
        }
        if (m == -std::numeric_limits<V>::infinity()) m = 0;  // all -inf: avoid inf - inf
        V s = 0;
        V* bp = buf.data();
#pragma omp simd reduction(+ : s)
        for (int64_t k = 0; k < n; ++k) s += vexp(bp[k] - m);
        if constexpr (Log) {
          V ls = m + std::log(s);
          for (int64_t k = 0; k < n; ++k) q[k * inner] = static_cast<T>(bp[k] - ls);
        } else {
          V inv = V(1) / s;
          for (int64_t k = 0; k < n; ++k) q[k * inner] = static_cast<T>(vexp(bp[k] - m) * inv);
        }
      }
    });
  });
}

}  // namespace

void register_softmax_kernels() {
  reg("softmax", softmax_kernel<false>);
  reg("log_softmax", softmax_kernel<true>);
}

}  // namespace deepseek::cpu::DS_CPU_CAPABILITY
