// Kernels of index_add, masked_fill, masked_select, nonzero, index, index_put and one_hot.
// Every index is range-checked before the first write; accumulation runs in index order, so
// duplicates give the same result on every run (no atomics).
#include "deepseek/backend/cpu/index_common.h"
#include "deepseek/ops/registry.h"

namespace deepseek::cpu {
namespace {

// t viewed with shape `b` (t broadcast to it): stride 0 along broadcast dims.
Tensor expand_alias(const Tensor& t, const Shape& b) {
  int64_t nd = static_cast<int64_t>(b.size()), lead = nd - t.dim();
  Strides st(nd, 0);
  for (int64_t d = lead; d < nd; ++d)
    st[d] = t.sizes()[d - lead] == 1 && b[d] != 1 ? 0 : t.strides()[d - lead];
  return Tensor::make(t.storage(), b, st, t.offset(), t.dtype());
}

// f(off_a, off_b) for every element of shape s in row-major order, with element offsets of
// two tensors of that shape.
template <typename F>
void walk2(const Shape& s, const Strides& sa, const Strides& sb, F f) {
  int64_t n = numel(s), nd = static_cast<int64_t>(s.size());
  std::vector<int64_t> idx(nd, 0);
  int64_t oa = 0, ob = 0;
  for (int64_t k = 0; k < n; ++k) {
    f(oa, ob);
    for (int64_t d = nd - 1; d >= 0; --d) {
      oa += sa[d];
      ob += sb[d];
      if (++idx[d] < s[d]) break;
      oa -= idx[d] * sa[d];
      ob -= idx[d] * sb[d];
      idx[d] = 0;
    }
  }
}

template <typename T>
inline T add_values(T a, T b) {
  if constexpr (std::is_same_v<T, bool>) return a || b;
  else return static_cast<T>(static_cast<opmath_t<T>>(a) + static_cast<opmath_t<T>>(b));
}

// Runs kernel k into a contiguous output; an in-place call on a strided tensor computes into a
// temporary and copies back.
template <typename K>
void into_contiguous(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a, K k) {
  if (out[0].is_contiguous()) return k(in, out[0], a);
  Tensor tmp = Tensor::empty(out[0].sizes(), out[0].dtype(), out[0].device());
  k(in, tmp, a);
  copy_same_dtype(out[0], tmp);
}

void index_add_impl(const std::vector<Tensor>& in, Tensor& y, const ops::Attrs& a) {
  const Tensor &x = in[0], &index = in[1];
  int64_t d = x.dim() == 0 ? 0 : wrap_dim(a.get<int64_t>("dim"), x.dim(), "index_add");
  int64_t size = x.dim() == 0 ? 1 : x.sizes()[d];
  std::vector<int64_t> idx = index_values(index, size, "index_add");
  copy_same_dtype(y, x);
  Tensor src = contiguous_copy(in[2]);
  int64_t outer = 1, inner = 1, n = static_cast<int64_t>(idx.size());
  for (int64_t k = 0; k < x.dim(); ++k) {
    if (k < d) outer *= x.sizes()[k];
    if (k > d) inner *= x.sizes()[k];
  }
  if (y.numel() == 0 || n == 0) return;
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* dst = y.data<T>();
    const T* s = src.data<T>();
    // Each output element is accumulated by one thread, in index order.
    auto run = [&](int64_t o, int64_t j0, int64_t j1) {
      for (int64_t i = 0; i < n; ++i) {
        T* drow = dst + (o * size + idx[i]) * inner;
        const T* srow = s + (o * n + i) * inner;
        for (int64_t j = j0; j < j1; ++j) drow[j] = add_values(drow[j], srow[j]);
      }
    };
    if (outer >= 2 * num_threads() || inner < 256) {
      parallel_for(0, outer, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, n * inner)),
                   [&](int64_t b, int64_t e) {
                     for (int64_t o = b; o < e; ++o) run(o, 0, inner);
                   });
    } else {
      for (int64_t o = 0; o < outer; ++o)
        parallel_for(0, inner, std::max<int64_t>(64, kGrain / n), [&](int64_t b, int64_t e) { run(o, b, e); });
    }
  });
}

void masked_fill_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  Scalar v = a.scalar("value");
  visit_dtype(in[0].dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T value = v.to<T>();
    elementwise<T, T, bool>(out[0], {&in[0], &in[1]}, [value](T x, bool m) { return m ? value : x; });
  });
}

void masked_select_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs&) {
  Shape b = broadcast_shapes(in[0].sizes(), in[1].sizes(), "masked_select");
  Tensor xb = expand_alias(in[0], b), mb = expand_alias(in[1], b);
  int64_t count = out[0].numel();
  visit_width(in[0].element_size(), [&](auto tag) {
    using U = typename decltype(tag)::type;
    const U* src = static_cast<const U*>(xb.raw_data());
    const bool* m = static_cast<const bool*>(mb.raw_data());
    U* dst = static_cast<U*>(out[0].raw_data());
    int64_t k = 0;
    walk2(b, xb.strides(), mb.strides(), [&](int64_t ox, int64_t om) {
      if (m[om]) {
        DS_CHECK(k < count, "[masked_select] mask changed while the op ran");
        dst[k++] = src[ox];
      }
    });
  });
}

void nonzero_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs&) {
  const Tensor& x = in[0];
  int64_t nd = x.dim(), count = out[0].sizes()[0];
  int64_t* dst = out[0].data<int64_t>();
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = x.data<T>();
    int64_t n = x.numel(), k = 0, off = 0;
    std::vector<int64_t> idx(nd, 0);
    for (int64_t e = 0; e < n; ++e) {
      if (static_cast<opmath_t<T>>(p[off]) != opmath_t<T>(0)) {
        DS_CHECK(k < count, "[nonzero] input changed while the op ran");
        for (int64_t d = 0; d < nd; ++d) dst[k * nd + d] = idx[d];
        ++k;
      }
      for (int64_t d = nd - 1; d >= 0; --d) {
        off += x.strides()[d];
        if (++idx[d] < x.sizes()[d]) break;
        off -= idx[d] * x.strides()[d];
        idx[d] = 0;
      }
    }
  });
}

// Broadcast shape of index tensors in[first..] and the flat source offset (in elements of a
// tensor with strides `st`) of every position of that shape. Range-checked against `sizes`.
std::vector<int64_t> index_offsets(const std::vector<Tensor>& in, size_t first, const Shape& sizes,
                                   const Strides& st, Shape& bshape, const char* op) {
  bshape = in[first].sizes();
  for (size_t i = first + 1; i < in.size(); ++i) bshape = broadcast_shapes(bshape, in[i].sizes(), op);
  std::vector<int64_t> offs(numel(bshape), 0);
  for (size_t i = first; i < in.size(); ++i) {
    int64_t k = static_cast<int64_t>(i - first);
    auto v = index_values(expand_alias(in[i], bshape), sizes[k], op);
    for (size_t j = 0; j < v.size(); ++j) offs[j] += v[j] * st[k];
  }
  return offs;
}

void index_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs&) {
  const Tensor& x = in[0];
  Shape b;
  std::vector<int64_t> offs = index_offsets(in, 1, x.sizes(), x.strides(), b, "index");
  int64_t k = static_cast<int64_t>(in.size()) - 1;
  // The result viewed as [prod(b), x.sizes()[k:]...]: a table gather.
  Shape view{static_cast<int64_t>(offs.size())};
  std::vector<std::vector<int64_t>> tab{offs};
  for (int64_t d = k; d < x.dim(); ++d) {
    view.push_back(x.sizes()[d]);
    tab.push_back(identity_table(x, d));
  }
  Tensor o = Tensor::make(out[0].storage(), view, contiguous_strides(view), out[0].offset(), out[0].dtype());
  table_gather(x, o, tab);
}

void index_put_impl(const std::vector<Tensor>& in, Tensor& y, const ops::Attrs& a) {
  const Tensor& x = in[0];
  bool acc = a.get<bool>("accumulate", false);
  Shape b;
  std::vector<int64_t> offs = index_offsets(in, 2, x.sizes(), y.strides(), b, "index_put");
  copy_same_dtype(y, x);
  int64_t k = static_cast<int64_t>(in.size()) - 2, inner = 1;
  Shape full = b;
  for (int64_t d = k; d < x.dim(); ++d) {
    inner *= x.sizes()[d];
    full.push_back(x.sizes()[d]);
  }
  Tensor values = contiguous_copy(expand_alias(in[1], full));
  int64_t nb = static_cast<int64_t>(offs.size());
  if (nb == 0 || inner == 0) return;
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* dst = y.data<T>();
    const T* v = values.data<T>();
    // Positions in index order (duplicates: last write wins / all add up, deterministically);
    // threads split the trailing block.
    parallel_for(0, inner, std::max<int64_t>(64, kGrain / nb), [&](int64_t j0, int64_t j1) {
      for (int64_t p = 0; p < nb; ++p) {
        T* d = dst + offs[p];
        const T* s = v + p * inner;
        if (acc)
          for (int64_t j = j0; j < j1; ++j) d[j] = add_values(d[j], s[j]);
        else
          for (int64_t j = j0; j < j1; ++j) d[j] = s[j];
      }
    });
  });
}

void index_add_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  into_contiguous(in, out, a, index_add_impl);
}
void index_put_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  into_contiguous(in, out, a, index_put_impl);
}

void one_hot_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs&) {
  int64_t c = out[0].sizes().back();
  std::vector<int64_t> labels;
  {
    Tensor l = contiguous_copy(in[0]);
    labels.resize(l.numel());
    for (int64_t i = 0; i < l.numel(); ++i) {
      int64_t v = read_index(l, i);
      DS_CHECK(v >= 0 && v < c, "[one_hot] class value ", v, " is out of range for ", c, " classes");
      labels[i] = v;
    }
  }
  int64_t* dst = out[0].data<int64_t>();
  std::memset(dst, 0, out[0].nbytes());
  for (size_t i = 0; i < labels.size(); ++i) dst[static_cast<int64_t>(i) * c + labels[i]] = 1;
}

void install() {
  auto& r = ops::Registry::get();
  r.register_kernel("index_add", DeviceType::cpu, index_add_kernel);
  r.register_kernel("masked_fill", DeviceType::cpu, masked_fill_kernel);
  r.register_kernel("masked_select", DeviceType::cpu, masked_select_kernel);
  r.register_kernel("nonzero", DeviceType::cpu, nonzero_kernel);
  r.register_kernel("index", DeviceType::cpu, index_kernel);
  r.register_kernel("index_put", DeviceType::cpu, index_put_kernel);
  r.register_kernel("one_hot", DeviceType::cpu, one_hot_kernel);
}
DS_REGISTER(install);

}  // namespace
}  // namespace deepseek::cpu
