// gather / scatter / scatter_add kernels: walk the index tensor, map each index element to an
// input position by replacing coordinate `dim`. Out-of-range indices raise an Error (checked
// before any write, so a failed scatter leaves its output untouched).
#include "deepseek/backend/cpu/loops.h"
#include "deepseek/ops/registry.h"

namespace deepseek::cpu {
namespace {

// Calls f(offset_in_index, offset_in_a_without_dim, offset_in_b) for each index element, in
// index order; rows of the innermost dim advance offsets by their strides (no per-element
// coordinate arithmetic or allocation).
template <typename F>
void walk(const Tensor& index, const Tensor& a, const Tensor& b, int64_t dim, F f) {
  const int64_t n = index.numel(), nd = index.dim();
  if (n == 0) return;
  if (nd == 0) {
    f(0, 0, 0);
    return;
  }
  std::vector<int64_t> is(nd), as(nd), bs(nd), pos(nd, 0);
  for (int64_t d = 0; d < nd; ++d) {
    is[d] = index.strides()[d];
    as[d] = d == dim ? 0 : a.strides()[d];
    bs[d] = b.strides()[d];
  }
  const int64_t inner = index.sizes()[nd - 1], si = is[nd - 1], sa = as[nd - 1], sb = bs[nd - 1];
  for (int64_t k = 0; k < n; k += inner) {
    int64_t io = 0, ao = 0, bo = 0;
    for (int64_t d = 0; d + 1 < nd; ++d) {
      io += pos[d] * is[d];
      ao += pos[d] * as[d];
      bo += pos[d] * bs[d];
    }
    for (int64_t j = 0; j < inner; ++j) f(io + j * si, ao + j * sa, bo + j * sb);
    for (int64_t d = nd - 2; d >= 0; --d) {
      if (++pos[d] < index.sizes()[d]) break;
      pos[d] = 0;
    }
  }
}

// Reads index values (i64 or i32) through a pointer fetched once.
struct IndexReader {
  const int64_t* p64 = nullptr;
  const int32_t* p32 = nullptr;
  explicit IndexReader(const Tensor& index) {
    if (index.dtype() == DType::i64) p64 = index.data<int64_t>();
    else p32 = index.data<int32_t>();
  }
  int64_t operator()(int64_t off) const { return p64 ? p64[off] : static_cast<int64_t>(p32[off]); }
};

void check_range(const Tensor& index, int64_t size, const char* op) {
  IndexReader read_index(index);
  walk(index, index, index, -1, [&](int64_t off, int64_t, int64_t) {
    int64_t v = read_index(off);
    DS_CHECK(v >= -size && v < size, "[", op, "] index ", v, " is out of bounds for size ", size);
  });
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
    IndexReader read_index(index);
    walk(index, x, out[0], dim, [&](int64_t ioff, int64_t xo, int64_t oo) {
      int64_t v = read_index(ioff);
      if (v < 0) v += size;
      dst[oo] = src[xo + v * xs];
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
    IndexReader read_index(index);
    walk(index, y, src, dim, [&](int64_t ioff, int64_t yo, int64_t so) {
      int64_t v = read_index(ioff);
      if (v < 0) v += size;
      T& d = dst[yo + v * ys];
      if constexpr (Add) d = static_cast<T>(static_cast<opmath_t<T>>(d) + static_cast<opmath_t<T>>(s[so]));
      else d = s[so];
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
