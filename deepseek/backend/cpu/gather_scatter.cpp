// gather / scatter / scatter_add kernels: walk the index tensor, map each index element to an
// input position by replacing coordinate `dim`. Out-of-range indices raise an Error (checked
// before any write, so a failed scatter leaves its output untouched).
#include "deepseek/backend/cpu/loops.h"
#include "deepseek/ops/registry.h"

namespace deepseek::cpu {
namespace {

// Calls f(index_value, offset_in_x_without_dim, offset_in_index_like, ...) for each index element.
template <typename F>
void walk(const Tensor& index, const std::vector<const Tensor*>& others, int64_t dim, F f) {
  int64_t n = index.numel();
  int64_t nd = index.dim();
  std::vector<int64_t> idx(nd, 0);
  for (int64_t k = 0; k < n; ++k) {
    int64_t ioff = 0;
    for (int64_t d = 0; d < nd; ++d) ioff += idx[d] * index.strides()[d];
    std::vector<int64_t> offs(others.size(), 0);
    for (size_t o = 0; o < others.size(); ++o)
      for (int64_t d = 0; d < nd; ++d)
        if (d != dim || o > 0) offs[o] += idx[d] * others[o]->strides()[d];
    f(ioff, offs);
    for (int64_t d = nd - 1; d >= 0; --d) {
      if (++idx[d] < index.sizes()[d]) break;
      idx[d] = 0;
    }
  }
}

int64_t read_index(const Tensor& index, int64_t off) {
  return index.dtype() == DType::i64 ? index.data<int64_t>()[off]
                                     : static_cast<int64_t>(index.data<int32_t>()[off]);
}

void check_range(const Tensor& index, int64_t size, const char* op) {
  int64_t n = index.numel();
  Tensor idx = index;
  std::vector<int64_t> pos(index.dim(), 0);
  for (int64_t k = 0; k < n; ++k) {
    int64_t off = 0;
    for (int64_t d = 0; d < idx.dim(); ++d) off += pos[d] * idx.strides()[d];
    int64_t v = read_index(idx, off);
    DS_CHECK(v >= -size && v < size, "[", op, "] index ", v, " is out of bounds for size ", size);
    for (int64_t d = idx.dim() - 1; d >= 0; --d) {
      if (++pos[d] < idx.sizes()[d]) break;
      pos[d] = 0;
    }
  }
}

void gather_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor &x = in[0], &index = in[1];
  if (x.dim() == 0) {
    check_range(index, 1, "gather");
  }
  int64_t dim = x.dim() == 0 ? 0 : wrap_dim(a.get<int64_t>("dim"), x.dim(), "gather");
  int64_t size = x.dim() == 0 ? 1 : x.sizes()[dim];
  check_range(index, size, "gather");
  int64_t xs = x.dim() == 0 ? 0 : x.strides()[dim];
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* src = x.data<T>();
    T* dst = out[0].data<T>();
    walk(index, {&x, &out[0]}, dim, [&](int64_t ioff, const std::vector<int64_t>& offs) {
      int64_t v = read_index(index, ioff);
      if (v < 0) v += size;
      dst[offs[1]] = src[offs[0] + v * xs];
    });
  });
}

template <bool Add>
void scatter_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor &x = in[0], &index = in[1], &src = in[2];
  int64_t dim = x.dim() == 0 ? 0 : wrap_dim(a.get<int64_t>("dim"), x.dim(), "scatter");
  int64_t size = x.dim() == 0 ? 1 : x.sizes()[dim];
  check_range(index, size, Add ? "scatter_add" : "scatter");
  Tensor& y = out[0];
  if (!y.is_same(x)) {  // functional form: start from a copy of x
    visit_dtype(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      elementwise<T, T>(y, {&x}, [](T v) { return v; });
    });
  }
  int64_t ys = y.dim() == 0 ? 0 : y.strides()[dim];
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* dst = y.data<T>();
    const T* s = src.data<T>();
    walk(index, {&y, &src}, dim, [&](int64_t ioff, const std::vector<int64_t>& offs) {
      int64_t v = read_index(index, ioff);
      if (v < 0) v += size;
      T& d = dst[offs[0] + v * ys];
      if constexpr (Add) d = static_cast<T>(static_cast<opmath_t<T>>(d) + static_cast<opmath_t<T>>(s[offs[1]]));
      else d = s[offs[1]];
    });
  });
}

void install() {
  auto& r = ops::Registry::get();
  r.register_kernel("gather", DeviceType::cpu, gather_kernel);
  r.register_kernel("scatter", DeviceType::cpu, scatter_kernel<false>);
  r.register_kernel("scatter_add", DeviceType::cpu, scatter_kernel<true>);
}
DS_REGISTER(install);

}  // namespace
}  // namespace deepseek::cpu
