// View ops: outputs alias input 0's storage with new sizes/strides/offset and share its
// version counter. Their backward rules are views or scatters of the gradient.
#include "deepseek/ops/defs/common.h"

namespace deepseek {
namespace {
using ops::Attrs;
using ops::OpKind;
using ops::TensorMeta;

std::vector<int64_t> ivec(const Attrs& a, const char* k) { return a.get<std::vector<int64_t>>(k); }
ops::AttrValue av(const std::vector<int64_t>& v) { return ops::AttrValue(v); }

Tensor alias(const Tensor& x, Shape sizes, Strides strides, int64_t offset) {
  return Tensor::make(x.storage(), std::move(sizes), std::move(strides), offset, x.dtype());
}

// Strides for viewing x as `shape` without copying, if possible (PyTorch's computeStride).
std::optional<Strides> view_strides(const Tensor& x, const Shape& shape) {
  if (x.numel() == 0 || x.is_contiguous()) return contiguous_strides(shape);
  const Shape& os = x.sizes();
  const Strides& ost = x.strides();
  Strides st(shape.size());
  int64_t view_d = static_cast<int64_t>(shape.size()) - 1;
  int64_t chunk_base_stride = ost.empty() ? 1 : ost.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(os.size()) - 1; d >= 0; --d) {
    tensor_numel *= os[d];
    if (d == 0 || (os[d - 1] != 1 && ost[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        st[view_d] = view_numel * chunk_base_stride;
        view_numel *= shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base_stride = ost[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return st;
}

Shape infer_shape(const Shape& requested, int64_t numel_, const char* op) {
  Shape s = requested;
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      DS_CHECK(infer_at < 0, "[", op, "] only one dimension can be -1, got ", to_string(requested));
      infer_at = static_cast<int64_t>(i);
    } else {
      DS_CHECK(s[i] >= 0, "[", op, "] invalid dimension ", s[i], " in shape ", to_string(requested));
      known *= s[i];
    }
  }
  if (infer_at >= 0) {
    DS_CHECK(known != 0 && numel_ % known == 0, "[", op, "] shape ", to_string(requested),
             " is invalid for input of size ", numel_);
    s[infer_at] = numel_ / known;
  }
  DS_CHECK(numel(s) == numel_, "[", op, "] shape ", to_string(requested),
           " is invalid for input of size ", numel_);
  return s;
}

ops::OpDef& view_op(const char* name) {
  auto& d = ops::define_op(name, OpKind::view, 1);
  d.save_all_inputs = false;
  d.flops = [](auto&, auto&, auto&) { return 0.0; };
  return d;
}

// A view op is fully described by its view function; infer runs it on the (cheap) metadata.
void set_view(ops::OpDef& d, std::function<Tensor(const Tensor&, const Attrs&)> f) {
  d.make_view = [f](const std::vector<Tensor>& in, const Attrs& a) {
    return std::vector<Tensor>{f(in[0], a)};
  };
  d.infer = [f](std::vector<Tensor>& in, const Attrs& a) {
    Tensor v = f(in[0], a);
    return std::vector<TensorMeta>{ops::meta_of(v)};
  };
}

void define() {
  auto& v = view_op("view");
  set_view(v, [](const Tensor& x, const Attrs& a) {
    Shape s = infer_shape(ivec(a, "shape"), x.numel(), "view");
    auto st = view_strides(x, s);
    DS_CHECK(st, "view size ", to_string(s), " is not compatible with input of shape ",
             to_string(x.sizes()), " and strides ", to_string(x.strides()),
             ": use reshape() (which copies when needed)");
    return alias(x, s, *st, x.offset());
  });
  v.backward = [](const ops::BackwardContext& c) {
    return std::vector<Tensor>{reshape(c.grads[0], c.input_meta[0].sizes)};
  };
  v.channels.passthrough = false;

  auto& p = view_op("permute");
  set_view(p, [](const Tensor& x, const Attrs& a) {
    auto dims = ivec(a, "dims");
    DS_CHECK(static_cast<int64_t>(dims.size()) == x.dim(), "number of dims (", dims.size(),
             ") does not match the input's ", x.dim());
    auto mask = dims_mask(dims, x.dim(), "permute");
    (void)mask;
    Shape s(x.dim());
    Strides st(x.dim());
    for (int64_t i = 0; i < x.dim(); ++i) {
      int64_t d = wrap_dim(dims[i], x.dim(), "permute");
      s[i] = x.sizes()[d];
      st[i] = x.strides()[d];
    }
    return alias(x, s, st, x.offset());
  });
  p.backward = [](const ops::BackwardContext& c) {
    auto dims = ivec(c.attrs, "dims");
    std::vector<int64_t> inv(dims.size());
    for (size_t i = 0; i < dims.size(); ++i)
      inv[wrap_dim(dims[i], static_cast<int64_t>(dims.size()), "permute")] = static_cast<int64_t>(i);
    return std::vector<Tensor>{permute(c.grads[0], inv)};
  };

  auto& e = view_op("expand");
  set_view(e, [](const Tensor& x, const Attrs& a) {
    auto shape = ivec(a, "shape");
    int64_t nd = static_cast<int64_t>(shape.size());
    DS_CHECK(nd >= x.dim(), "the number of sizes (", nd, ") must be at least the tensor's dims (",
             x.dim(), ")");
    Shape s(nd);
    Strides st(nd);
    for (int64_t i = nd - 1; i >= 0; --i) {
      int64_t xi = i - (nd - x.dim());
      int64_t want = shape[i];
      if (xi >= 0) {
        int64_t have = x.sizes()[xi];
        if (want == -1) want = have;
        DS_CHECK(have == want || have == 1, "the expanded size ", want,
                 " must match the existing size ", have, " at dim ", i, " (shape ",
                 to_string(x.sizes()), " to ", to_string(shape), ")");
        s[i] = want;
        st[i] = have == want ? x.strides()[xi] : 0;
      } else {
        DS_CHECK(want >= 0, "size -1 is not allowed for a new leading dim");
        s[i] = want;
        st[i] = 0;
      }
    }
    return alias(x, s, st, x.offset());
  });
  e.backward = [](const ops::BackwardContext& c) {
    return std::vector<Tensor>{sum_to(c.grads[0], c.input_meta[0].sizes)};
  };

  auto& sq = view_op("squeeze");
  set_view(sq, [](const Tensor& x, const Attrs& a) {
    auto dim = a.optional_int("dim");
    Shape s;
    Strides st;
    int64_t wd = dim ? wrap_dim(*dim, x.dim(), "squeeze") : -1;
    for (int64_t i = 0; i < x.dim(); ++i) {
      bool drop = x.sizes()[i] == 1 && (!dim || i == wd);
      if (!drop) {
        s.push_back(x.sizes()[i]);
        st.push_back(x.strides()[i]);
      }
    }
    return alias(x, s, st, x.offset());
  });
  sq.backward = [](const ops::BackwardContext& c) {
    return std::vector<Tensor>{reshape(c.grads[0], c.input_meta[0].sizes)};
  };

  auto& us = view_op("unsqueeze");
  set_view(us, [](const Tensor& x, const Attrs& a) {
    int64_t d = wrap_dim(a.get<int64_t>("dim"), x.dim() + 1, "unsqueeze");
    Shape s = x.sizes();
    Strides st = x.strides();
    int64_t stride = d < x.dim() ? x.sizes()[d] * x.strides()[d] : 1;
    s.insert(s.begin() + d, 1);
    st.insert(st.begin() + d, stride);
    return alias(x, s, st, x.offset());
  });
  us.backward = [](const ops::BackwardContext& c) {
    return std::vector<Tensor>{reshape(c.grads[0], c.input_meta[0].sizes)};
  };

  auto& sl = view_op("slice");
  set_view(sl, [](const Tensor& x, const Attrs& a) {
    DS_CHECK(x.dim() > 0, "cannot slice a 0-d tensor");
    int64_t d = wrap_dim(a.get<int64_t>("dim"), x.dim(), "slice");
    int64_t n = x.sizes()[d];
    int64_t start = a.get<int64_t>("start"), end = a.get<int64_t>("end"), step = a.get<int64_t>("step");
    DS_CHECK(step > 0, "slice step must be positive, got ", step);
    if (start < 0) start += n;
    if (end < 0) end += n;
    start = std::clamp<int64_t>(start, 0, n);
    end = std::clamp<int64_t>(end, start, n);
    Shape s = x.sizes();
    Strides st = x.strides();
    s[d] = (end - start + step - 1) / step;
    st[d] = x.strides()[d] * step;
    return alias(x, s, st, x.offset() + start * x.strides()[d]);
  });
  sl.backward = [](const ops::BackwardContext& c) {
    const Shape& in = c.input_meta[0].sizes;
    Tensor z = zeros(in, {c.grads[0].dtype(), c.grads[0].device()});
    int64_t d = wrap_dim(c.attrs.get<int64_t>("dim"), static_cast<int64_t>(in.size()), "slice");
    int64_t n = in[d], start = c.attrs.get<int64_t>("start"), step = c.attrs.get<int64_t>("step");
    if (start < 0) start += n;
    start = std::clamp<int64_t>(start, 0, n);
    Strides cs = contiguous_strides(in);
    Strides st = cs;
    st[d] *= step;
    return std::vector<Tensor>{as_strided_scatter(z, c.grads[0], c.grads[0].sizes(), st, start * cs[d])};
  };
  sl.channels.passthrough = true;

  auto& se = view_op("select");
  set_view(se, [](const Tensor& x, const Attrs& a) {
    DS_CHECK(x.dim() > 0, "cannot select from a 0-d tensor");
    int64_t d = wrap_dim(a.get<int64_t>("dim"), x.dim(), "select");
    int64_t i = a.get<int64_t>("index");
    int64_t n = x.sizes()[d];
    DS_CHECK(i >= -n && i < n, "index ", i, " is out of bounds for dim ", d, " of size ", n);
    if (i < 0) i += n;
    Shape s = x.sizes();
    Strides st = x.strides();
    s.erase(s.begin() + d);
    st.erase(st.begin() + d);
    return alias(x, s, st, x.offset() + i * x.strides()[d]);
  });
  se.backward = [](const ops::BackwardContext& c) {
    const Shape& in = c.input_meta[0].sizes;
    Tensor z = zeros(in, {c.grads[0].dtype(), c.grads[0].device()});
    int64_t d = wrap_dim(c.attrs.get<int64_t>("dim"), static_cast<int64_t>(in.size()), "select");
    int64_t i = c.attrs.get<int64_t>("index");
    if (i < 0) i += in[d];
    Strides cs = contiguous_strides(in);
    Strides st = cs;
    st.erase(st.begin() + d);
    return std::vector<Tensor>{as_strided_scatter(z, c.grads[0], c.grads[0].sizes(), st, i * cs[d])};
  };

  auto& as = view_op("as_strided");
  set_view(as, [](const Tensor& x, const Attrs& a) {
    auto s = ivec(a, "sizes");
    auto st = ivec(a, "strides");
    int64_t off = a.get<int64_t>("offset");
    DS_CHECK(s.size() == st.size(), "sizes and strides differ in length");
    DS_CHECK(off >= 0, "negative storage offset ", off);
    int64_t max_el = off;
    for (size_t i = 0; i < s.size(); ++i) {
      DS_CHECK(s[i] >= 0 && st[i] >= 0, "negative size or stride");
      if (s[i] == 0) max_el = -1;
      if (max_el >= 0) max_el += (s[i] - 1) * st[i];
    }
    if (!x.is_meta())
      DS_CHECK(max_el < 0 || (max_el + 1) * static_cast<int64_t>(x.element_size()) <=
                                 static_cast<int64_t>(x.storage()->nbytes()),
               "view of sizes ", to_string(s), " strides ", to_string(st), " offset ", off,
               " reaches past the end of its storage");
    return alias(x, Shape(s.begin(), s.end()), Strides(st.begin(), st.end()), off);
  });
  as.backward = [](const ops::BackwardContext& c) {
    const Shape& in = c.input_meta[0].sizes;
    Tensor z = zeros(in, {c.grads[0].dtype(), c.grads[0].device()});
    return std::vector<Tensor>{as_strided_scatter(z, c.grads[0], ivec(c.attrs, "sizes"),
                                                  ivec(c.attrs, "strides"), c.attrs.get<int64_t>("offset"))};
  };

  // as_strided_scatter(base, src): a contiguous copy of base whose strided window is src.
  auto& ass = ops::define_op("as_strided_scatter", OpKind::opaque, 2);
  ass.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    auto s = ivec(a, "sizes");
    auto st = ivec(a, "strides");
    int64_t off = a.get<int64_t>("offset");
    DS_CHECK(s.size() == st.size(), "sizes and strides differ in length");
    DS_CHECK(in[1].sizes() == Shape(s.begin(), s.end()), "src shape ", to_string(in[1].sizes()),
             " does not match the window's ", to_string(s));
    int64_t max_el = off;
    for (size_t i = 0; i < s.size(); ++i) {
      DS_CHECK(s[i] >= 0 && st[i] >= 0 && off >= 0, "negative size, stride or offset");
      if (s[i] == 0) max_el = -1;
      if (max_el >= 0) max_el += (s[i] - 1) * st[i];
    }
    DS_CHECK(max_el < in[0].numel(), "window reaches past the end of base");
    if (in[1].dtype() != in[0].dtype()) in[1] = cast(in[1], in[0].dtype());
    return std::vector<TensorMeta>{ops::meta_of(in[0])};
  };
  ass.save_all_inputs = false;
  ass.backward = [](const ops::BackwardContext& c) {
    Tensor g = contiguous(c.grads[0]);
    auto s = ivec(c.attrs, "sizes");
    auto st = ivec(c.attrs, "strides");
    int64_t off = c.attrs.get<int64_t>("offset");
    std::vector<Tensor> r(2);
    if (c.needs_grad[0])
      r[0] = as_strided_scatter(g, zeros(Shape(s.begin(), s.end()), {g.dtype(), g.device()}), s, st, off);
    if (c.needs_grad[1]) r[1] = contiguous(as_strided(g, s, st, off));
    return r;
  };
}
DS_REGISTER(define);

Attrs one(const char* k, int64_t v) { return Attrs().set(k, ops::AttrValue(v)); }
}  // namespace

Tensor view(const Tensor& x, const Shape& s) {
  static const auto op = ops::op_id("view");
  return ops::dispatch1(op, {x}, Attrs().set("shape", av(s)));
}

Tensor reshape(const Tensor& x, const Shape& s) {
  if (x.defined() && !x.is_meta()) {
    Shape target = infer_shape(s, x.numel(), "reshape");
    if (!view_strides(x, target)) return view(clone(x), target);
  }
  return view(x, s);
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  static const auto op = ops::op_id("permute");
  return ops::dispatch1(op, {x}, Attrs().set("dims", av(dims)));
}

Tensor transpose(const Tensor& x, int64_t a, int64_t b) {
  DS_CHECK(x.defined(), "[transpose] undefined tensor");
  int64_t nd = x.dim();
  std::vector<int64_t> dims(nd);
  for (int64_t i = 0; i < nd; ++i) dims[i] = i;
  if (nd == 0) return x;
  std::swap(dims[wrap_dim(a, nd, "transpose")], dims[wrap_dim(b, nd, "transpose")]);
  return permute(x, dims);
}

Tensor expand(const Tensor& x, const Shape& s) {
  static const auto op = ops::op_id("expand");
  return ops::dispatch1(op, {x}, Attrs().set("shape", av(s)));
}

Tensor squeeze(const Tensor& x, std::optional<int64_t> dim) {
  static const auto op = ops::op_id("squeeze");
  return ops::dispatch1(op, {x}, Attrs().set("dim", dim));
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  static const auto op = ops::op_id("unsqueeze");
  return ops::dispatch1(op, {x}, one("dim", dim));
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  static const auto op = ops::op_id("slice");
  return ops::dispatch1(op, {x}, one("dim", dim).set("start", ops::AttrValue(start))
                                     .set("end", ops::AttrValue(end)).set("step", ops::AttrValue(step)));
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  DS_CHECK(x.defined() && x.dim() > 0, "[narrow] needs a tensor with at least one dim");
  int64_t n = x.size(dim);
  if (start < 0) start += n;
  DS_CHECK(start >= 0 && length >= 0 && start + length <= n, "[narrow] start ", start,
           " + length ", length, " exceeds dim size ", n);
  return slice(x, dim, start, start + length, 1);
}

Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  static const auto op = ops::op_id("select");
  return ops::dispatch1(op, {x}, one("dim", dim).set("index", ops::AttrValue(index)));
}

Tensor flatten(const Tensor& x, int64_t start, int64_t end) {
  DS_CHECK(x.defined(), "[flatten] undefined tensor");
  if (x.dim() == 0) return reshape(x, {1});
  int64_t s = wrap_dim(start, x.dim(), "flatten"), e = wrap_dim(end, x.dim(), "flatten");
  DS_CHECK(s <= e, "[flatten] start dim ", start, " is after end dim ", end);
  Shape shape;
  for (int64_t i = 0; i < s; ++i) shape.push_back(x.sizes()[i]);
  int64_t m = 1;
  for (int64_t i = s; i <= e; ++i) m *= x.sizes()[i];
  shape.push_back(m);
  for (int64_t i = e + 1; i < x.dim(); ++i) shape.push_back(x.sizes()[i]);
  return reshape(x, shape);
}

Tensor as_strided(const Tensor& x, const Shape& sizes, const Strides& strides, int64_t offset) {
  static const auto op = ops::op_id("as_strided");
  return ops::dispatch1(op, {x}, Attrs().set("sizes", av(sizes)).set("strides", av(strides))
                                     .set("offset", ops::AttrValue(offset)));
}

Tensor as_strided_scatter(const Tensor& base, const Tensor& src, const Shape& sizes,
                          const Strides& strides, int64_t offset) {
  static const auto op = ops::op_id("as_strided_scatter");
  return ops::dispatch1(op, {base, src}, Attrs().set("sizes", av(sizes)).set("strides", av(strides))
                                             .set("offset", ops::AttrValue(offset)));
}

}  // namespace deepseek
