// Kernels of cat, flip, roll, pad, index_select, tril and triu (see index_common.h for the
// table-gather loop most of them share).
#include "deepseek/backend/cpu/index_common.h"
#include "deepseek/ops/defs/index_math.h"
#include "deepseek/ops/registry.h"

namespace deepseek::cpu {

namespace im = ops::index_math;

void copy_same_dtype(Tensor& dst, const Tensor& src) {
  visit_width(src.element_size(), [&](auto tag) {
    using U = typename decltype(tag)::type;
    elementwise<U, U>(dst, {&src}, [](U v) { return v; });
  });
}

Tensor contiguous_copy(const Tensor& t) {
  if (t.is_contiguous()) return t;
  Tensor c = Tensor::empty(t.sizes(), t.dtype(), t.device());
  copy_same_dtype(c, t);
  return c;
}

std::vector<int64_t> index_values(const Tensor& index, int64_t size, const char* op) {
  Tensor idx = contiguous_copy(index);
  int64_t n = idx.numel();
  std::vector<int64_t> v(n);
  for (int64_t k = 0; k < n; ++k) {
    int64_t i = read_index(idx, k);
    DS_CHECK(i >= -size && i < size, "[", op, "] index ", i, " is out of bounds for dim of size ", size);
    v[k] = i < 0 ? i + size : i;
  }
  return v;
}

namespace {

// The innermost table cut into runs: fill runs, and arithmetic runs of source offsets
// (step 1 is a memcpy; a flip is step -stride; pad is fill/constant, a run, fill/constant).
struct Run {
  int64_t out, len, src, step;
  bool fill;
};

std::vector<Run> runs_of(const std::vector<int64_t>& t) {
  std::vector<Run> r;
  int64_t n = static_cast<int64_t>(t.size());
  for (int64_t j = 0; j < n;) {
    int64_t k = j + 1;
    if (t[j] == kFill) {
      while (k < n && t[k] == kFill) ++k;
      r.push_back({j, k - j, 0, 0, true});
    } else {
      int64_t step = (k < n && t[k] != kFill) ? t[k] - t[j] : 1;
      while (k < n && t[k] != kFill && t[k] - t[k - 1] == step) ++k;
      r.push_back({j, k - j, t[j], step, false});
    }
    j = k;
  }
  return r;
}

template <typename U>
void table_gather_impl(const U* src, U* dst, const Shape& s,
                       const std::vector<std::vector<int64_t>>& tab, U fill) {
  int64_t nd = static_cast<int64_t>(s.size());
  if (nd == 0) {
    dst[0] = src[0];
    return;
  }
  int64_t inner = s[nd - 1];
  int64_t total = numel(s);
  if (total == 0) return;
  int64_t rows = total / inner;
  std::vector<Run> runs = runs_of(tab[nd - 1]);
  parallel_for(0, rows, std::max<int64_t>(1, kGrain / inner), [&](int64_t b, int64_t e) {
    std::vector<int64_t> idx(nd > 1 ? nd - 1 : 1, 0);
    int64_t rest = b;
    for (int64_t d = nd - 2; d >= 0; --d) {
      idx[d] = rest % s[d];
      rest /= s[d];
    }
    for (int64_t r = b; r < e; ++r) {
      int64_t base = 0;
      bool fill_row = false;
      for (int64_t d = 0; d < nd - 1; ++d) {
        int64_t v = tab[d][idx[d]];
        if (v == kFill) fill_row = true;
        base += v;
      }
      U* o = dst + r * inner;
      if (fill_row) {
        for (int64_t j = 0; j < inner; ++j) o[j] = fill;
      } else {
        for (const Run& run : runs) {
          U* q = o + run.out;
          if (run.fill) {
            for (int64_t j = 0; j < run.len; ++j) q[j] = fill;
          } else if (run.step == 1) {
            std::memcpy(q, src + base + run.src, static_cast<size_t>(run.len) * sizeof(U));
          } else if (run.step == -1) {
            const U* p = src + base + run.src;
            for (int64_t j = 0; j < run.len; ++j) q[j] = p[-j];
          } else {
            const U* p = src + base + run.src;
            int64_t st = run.step;
            for (int64_t j = 0; j < run.len; ++j) q[j] = p[j * st];
          }
        }
      }
      for (int64_t d = nd - 2; d >= 0; --d) {
        if (++idx[d] < s[d]) break;
        idx[d] = 0;
      }
    }
  });
}

void cat_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  Tensor& y = out[0];
  if (y.numel() == 0) return;
  int64_t dim = wrap_dim(a.get<int64_t>("dim"), y.dim(), "cat");
  int64_t off = 0;
  for (const Tensor& x : in) {
    if (x.numel() == 0) continue;  // includes the legacy 1-D empty inputs
    Tensor window = Tensor::make(y.storage(), x.sizes(), y.strides(),
                                 y.offset() + off * y.strides()[dim], y.dtype());
    copy_same_dtype(window, x);
    off += x.sizes()[dim];
  }
}

void flip_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  auto mask = dims_mask(a.get<std::vector<int64_t>>("dims"), x.dim(), "flip");
  std::vector<std::vector<int64_t>> tab(x.dim());
  for (int64_t d = 0; d < x.dim(); ++d) {
    int64_t n = x.sizes()[d];
    tab[d].resize(n);
    for (int64_t o = 0; o < n; ++o) tab[d][o] = (mask[d] ? n - 1 - o : o) * x.strides()[d];
  }
  table_gather(x, out[0], tab);
}

void roll_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  auto shifts = a.get<std::vector<int64_t>>("shifts"), dims = a.get<std::vector<int64_t>>("dims");
  std::vector<int64_t> total(x.dim(), 0);
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = wrap_dim(dims[i], x.dim(), "roll");
    if (x.dim() > 0) total[d] += shifts[i];
  }
  std::vector<std::vector<int64_t>> tab(x.dim());
  for (int64_t d = 0; d < x.dim(); ++d) {
    int64_t n = x.sizes()[d];
    tab[d].resize(n);
    for (int64_t o = 0; o < n; ++o) tab[d][o] = im::roll_source(o, n, total[d]) * x.strides()[d];
  }
  table_gather(x, out[0], tab);
}

void pad_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  auto mode = im::pad_mode(a.get<std::string>("mode"));
  auto per = im::pad_per_dim(a.get<std::vector<int64_t>>("pad"), x.dim());
  std::vector<std::vector<int64_t>> tab(x.dim());
  for (int64_t d = 0; d < x.dim(); ++d) {
    int64_t n = x.sizes()[d], m = out[0].sizes()[d];
    tab[d].resize(m);
    for (int64_t o = 0; o < m; ++o) {
      int64_t i = im::pad_source(o, n, per[2 * d], mode);
      tab[d][o] = i < 0 ? kFill : i * x.strides()[d];
    }
  }
  table_gather(x, out[0], tab, scalar_bits(Scalar(a.get<double>("value", 0.0)), x.dtype()));
}

void index_select_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  if (x.dim() == 0) {
    index_values(in[1], 1, "index_select");
    std::vector<std::vector<int64_t>> tab;
    for (auto n : out[0].sizes()) tab.emplace_back(n, 0);
    table_gather(x, out[0], tab);
    return;
  }
  int64_t dim = wrap_dim(a.get<int64_t>("dim"), x.dim(), "index_select");
  std::vector<std::vector<int64_t>> tab(x.dim());
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d != dim) {
      tab[d] = identity_table(x, d);
      continue;
    }
    tab[d] = index_values(in[1], x.sizes()[d], "index_select");
    for (auto& v : tab[d]) v *= x.strides()[d];
  }
  table_gather(x, out[0], tab);
}

template <bool Lower>
void tri_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  Tensor& y = out[0];
  int64_t k = a.get<int64_t>("diagonal");
  int64_t nd = x.dim(), R = x.sizes()[nd - 2], C = x.sizes()[nd - 1];
  int64_t rs = x.strides()[nd - 2], cs = x.strides()[nd - 1];
  if (y.numel() == 0) return;
  Shape batch(x.sizes().begin(), x.sizes().end() - 2);
  int64_t nb = numel(batch);
  visit_width(x.element_size(), [&](auto tag) {
    using U = typename decltype(tag)::type;
    const U* src = static_cast<const U*>(x.raw_data());
    U* dst = static_cast<U*>(y.raw_data());
    parallel_for(0, nb * R, std::max<int64_t>(1, kGrain / C), [&](int64_t b, int64_t e) {
      for (int64_t row = b; row < e; ++row) {
        int64_t bi = row / R, r = row % R;
        int64_t base = 0, rest = bi;
        for (int64_t d = nd - 3; d >= 0; --d) {
          base += (rest % x.sizes()[d]) * x.strides()[d];
          rest /= x.sizes()[d];
        }
        const U* p = src + base + r * rs;
        U* o = dst + row * C;
        for (int64_t c = 0; c < C; ++c) {
          bool keep = Lower ? (c - r <= k) : (c - r >= k);
          o[c] = keep ? p[c * cs] : U(0);
        }
      }
    });
  });
}

void install() {
  auto& r = ops::Registry::get();
  r.register_kernel("cat", DeviceType::cpu, cat_kernel);
  r.register_kernel("flip", DeviceType::cpu, flip_kernel);
  r.register_kernel("roll", DeviceType::cpu, roll_kernel);
  r.register_kernel("pad", DeviceType::cpu, pad_kernel);
  r.register_kernel("index_select", DeviceType::cpu, index_select_kernel);
  r.register_kernel("tril", DeviceType::cpu, tri_kernel<true>);
  r.register_kernel("triu", DeviceType::cpu, tri_kernel<false>);
}
DS_REGISTER(install);

}  // namespace

void table_gather(const Tensor& src, Tensor& out, const std::vector<std::vector<int64_t>>& tab,
                  uint64_t fill_bits) {
  DS_CHECK(static_cast<int64_t>(tab.size()) == out.dim(), "table_gather: table/rank mismatch");
  visit_width(src.element_size(), [&](auto tag) {
    using U = typename decltype(tag)::type;
    U fill;
    std::memcpy(&fill, &fill_bits, sizeof(U));
    table_gather_impl<U>(static_cast<const U*>(src.raw_data()), static_cast<U*>(out.raw_data()),
                         out.sizes(), tab, fill);
  });
}

}  // namespace deepseek::cpu
