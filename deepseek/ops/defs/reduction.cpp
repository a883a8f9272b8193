// Reductions over any set of dims (empty = all) with keepdim. Integer and bool sums give i64;
// f16/bf16 accumulate in f32 inside the kernels. Composite reductions (var, norm, logsumexp,
// softmax) are written with primitives where that costs no extra pass worth having.
#include <cmath>

#include "deepseek/ops/defs/common.h"

namespace deepseek {
namespace {
using ops::Attrs;
using ops::BackwardContext;
using ops::OpKind;
using ops::TensorMeta;
using Grads = std::vector<Tensor>;

std::vector<int64_t> dims_of(const Attrs& a) { return a.get<std::vector<int64_t>>("dims", {}); }

Shape reduced_shape(const Shape& in, const std::vector<int64_t>& dims, bool keepdim, const char* op) {
  auto mask = dims_mask(dims, static_cast<int64_t>(in.size()), op);
  Shape out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (mask[i]) {
      if (keepdim) out.push_back(1);
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

// Gradient of a reduction broadcast back over the reduced dims.
Tensor expand_back(const Tensor& g, const Shape& in, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor r = g;
  if (!keepdim) {
    auto mask = dims_mask(dims, static_cast<int64_t>(in.size()), "reduction");
    for (size_t i = 0; i < in.size(); ++i)
      if (mask[i]) r = unsqueeze(r, static_cast<int64_t>(i));
  }
  return expand(r, in);
}

ops::OpDef& reduction(const char* name, bool empty_ok = true) {
  auto& d = ops::define_op(name, OpKind::reduction, 1);
  d.infer = [name, empty_ok](std::vector<Tensor>& in, const Attrs& a) {
    Shape s = reduced_shape(in[0].sizes(), dims_of(a), a.get<bool>("keepdim", false), name);
    if (!empty_ok)
      DS_CHECK(in[0].numel() > 0 || numel(s) == 0, "[", name, "] of an empty tensor has no identity");
    if (!empty_ok && in[0].numel() == 0 && in[0].dim() > 0) {
      auto mask = dims_mask(dims_of(a), in[0].dim(), name);
      for (int64_t i = 0; i < in[0].dim(); ++i)
        DS_CHECK(!mask[i] || in[0].sizes()[i] > 0, "[", name, "] over a dim of size 0 has no identity");
    }
    return std::vector<TensorMeta>{{s, in[0].dtype(), in[0].device()}};
  };
  d.save_all_inputs = false;
  return d;
}

Tensor log_softmax_backward_op(const Tensor& g, const Tensor& y, int64_t dim) {
  static const auto op = ops::op_id("log_softmax_backward");
  return ops::dispatch1(op, {g, y}, Attrs().set("dim", dim));
}

void define() {
  auto& s = reduction("sum");
  s.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    Shape sh = reduced_shape(in[0].sizes(), dims_of(a), a.get<bool>("keepdim", false), "sum");
    DType t = a.has("dtype") ? dtype_from_name(a.get<std::string>("dtype"))
              : is_floating(in[0].dtype()) ? in[0].dtype() : DType::i64;
    DS_CHECK(is_floating(t) || t == DType::i64, "dtype must be floating or i64, got ", dtype_name(t));
    if (t != in[0].dtype() && is_floating(t)) ops::cast_inputs(in, t);
    if (t == DType::i64 && is_floating(in[0].dtype())) ops::cast_inputs(in, t);
    return std::vector<TensorMeta>{{sh, t, in[0].device()}};
  };
  s.backward = [](const BackwardContext& c) {
    return Grads{expand_back(c.grads[0], c.input_meta[0].sizes, dims_of(c.attrs),
                             c.attrs.get<bool>("keepdim", false))};
  };

  auto& m = reduction("mean");
  m.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    DS_CHECK(is_floating(in[0].dtype()), "mean needs a floating-point input, got ",
             dtype_name(in[0].dtype()), "; cast it first");
    Shape sh = reduced_shape(in[0].sizes(), dims_of(a), a.get<bool>("keepdim", false), "mean");
    return std::vector<TensorMeta>{{sh, in[0].dtype(), in[0].device()}};
  };
  m.backward = [](const BackwardContext& c) {
    const Shape& in = c.input_meta[0].sizes;
    Shape out = c.grads[0].sizes();
    double count = static_cast<double>(numel(in)) / std::max<int64_t>(1, numel(out));
    return Grads{div(expand_back(c.grads[0], in, dims_of(c.attrs), c.attrs.get<bool>("keepdim", false)), count)};
  };

  auto& p = reduction("prod");
  p.infer = [base = p.infer](std::vector<Tensor>& in, const Attrs& a) {
    // Backward handles one dim or all dims (the public prod's contract).
    DS_CHECK(dims_of(a).size() <= 1, "reduces over one dim or all dims, got dims ",
             to_string(dims_of(a)));
    return base(in, a);
  };
  p.save_inputs = {0};
  p.save_outputs = {0};
  p.backward = [](const BackwardContext& c) {
    // d prod / d x_i = prod / x_i, computed without dividing by zero: product of the others
    // via exclusive cumulative products would be exact; here zeros are handled by masking.
    const Tensor& x = c.inputs[0];
    bool keep = c.attrs.get<bool>("keepdim", false);
    auto dims = dims_of(c.attrs);
    Tensor y = expand_back(c.outputs[0], x.sizes(), dims, keep);
    Tensor g = expand_back(c.grads[0], x.sizes(), dims, keep);
    Tensor nz = where(eq(x, 0), ones_like(x), x);
    Tensor zeros_count = expand_back(sum(cast(eq(x, 0), DType::f64), dims, keep), x.sizes(), dims, keep);
    Tensor prod_nz = expand_back(prod(nz, dims.empty() ? std::nullopt : std::optional<int64_t>(dims[0]), keep),
                                 x.sizes(), dims, keep);
    Tensor others = where(eq(x, 0), where(eq(zeros_count, 1), prod_nz, zeros_like(x)), div(y, nz));
    return Grads{mul(g, others)};
  };

  for (const char* n : {"amax", "amin"}) {
    auto& r = reduction(n, false);
    r.save_inputs = {0};
    r.save_outputs = {0};
    r.backward = [](const BackwardContext& c) {
      // Evenly split among ties, as PyTorch's amax/amin.
      bool keep = c.attrs.get<bool>("keepdim", false);
      auto dims = dims_of(c.attrs);
      const Tensor& x = c.inputs[0];
      Tensor y = expand_back(c.outputs[0], x.sizes(), dims, keep);
      Tensor hit = cast(eq(x, y), x.dtype());
      Tensor count = expand_back(sum(hit, dims, keep), x.sizes(), dims, keep);
      return Grads{div(mul(expand_back(c.grads[0], x.sizes(), dims, keep), hit), count)};
    };
  }

  for (const char* n : {"any", "all"}) {
    auto& r = reduction(n);
    r.differentiable = false;
    r.infer = [n](std::vector<Tensor>& in, const Attrs& a) {
      Shape sh = reduced_shape(in[0].sizes(), dims_of(a), a.get<bool>("keepdim", false), n);
      return std::vector<TensorMeta>{{sh, DType::b8, in[0].device()}};
    };
  }

  // max/min along one dim: values and i64 indices (the first extreme, as PyTorch on CPU).
  for (const char* n : {"max_dim", "min_dim"}) {
    auto& r = ops::define_op(n, OpKind::reduction, 1, 2);
    r.infer = [n](std::vector<Tensor>& in, const Attrs& a) {
      DS_CHECK(in[0].dtype() != DType::b8 || true, "");
      int64_t d = wrap_dim(a.get<int64_t>("dim"), in[0].dim(), n);
      DS_CHECK(in[0].dim() == 0 || in[0].sizes()[d] > 0, "[", n, "] over an empty dim");
      Shape sh = reduced_shape(in[0].sizes(), {d}, a.get<bool>("keepdim", false), n);
      return std::vector<TensorMeta>{{sh, in[0].dtype(), in[0].device()}, {sh, DType::i64, in[0].device()}};
    };
    r.save_all_inputs = false;
    r.save_outputs = {1};
    r.backward = [](const BackwardContext& c) {
      const Shape& in = c.input_meta[0].sizes;
      int64_t d = wrap_dim(c.attrs.get<int64_t>("dim"), static_cast<int64_t>(in.size()), "max");
      bool keep = c.attrs.get<bool>("keepdim", false);
      Tensor idx = c.outputs[1], g = c.grads[0];
      if (in.empty()) return Grads{g};
      if (!keep) {
        idx = unsqueeze(idx, d);
        g = unsqueeze(g, d);
      }
      Tensor z = zeros(in, {g.dtype(), g.device()});
      return Grads{scatter(z, d, idx, g)};
    };
  }
  for (const char* n : {"argmax", "argmin"}) {
    auto& r = reduction(n, false);
    r.differentiable = false;
    r.infer = [n](std::vector<Tensor>& in, const Attrs& a) {
      DS_CHECK(in[0].numel() > 0, "[", n, "] of an empty tensor");
      auto d = a.optional_int("dim");
      Shape sh = d ? reduced_shape(in[0].sizes(), {*d}, a.get<bool>("keepdim", false), n)
                   : reduced_shape(in[0].sizes(), {}, a.get<bool>("keepdim", false), n);
      return std::vector<TensorMeta>{{sh, DType::i64, in[0].device()}};
    };
  }

  for (const char* n : {"softmax", "log_softmax"}) {
    bool is_log = std::string(n) == "log_softmax";
    auto& r = ops::define_op(n, OpKind::reduction, 1);
    r.infer = [n](std::vector<Tensor>& in, const Attrs& a) {
      if (in[0].dim() > 0) wrap_dim(a.get<int64_t>("dim"), in[0].dim(), n);
      ops::promote_to_float(in);
      if (!in[0].is_contiguous()) in[0] = contiguous(in[0]);
      return std::vector<TensorMeta>{ops::meta_of(in[0])};
    };
    r.save_all_inputs = false;
    r.save_outputs = {0};
    r.flops = [](auto&, const std::vector<TensorMeta>& out, auto&) { return 5.0 * numel(out[0].sizes); };
    r.backward = [is_log](const BackwardContext& c) {
      int64_t d = c.attrs.get<int64_t>("dim");
      const Tensor& y = c.outputs[0];
      const Tensor& g = c.grads[0];
      if (y.dim() == 0) return Grads{is_log ? zeros_like(g) : zeros_like(g)};
      if (is_log) return Grads{log_softmax_backward_op(g, y, d)};
      return Grads{mul(y, sub(g, sum(mul(g, y), {d}, true)))};
    };
  }

  // log_softmax's gradient, dx = g - exp(y) sum(g) along dim (y the forward's output), fused
  // (one read of y, two of g) as PyTorch's _log_softmax_backward_data; it takes the big
  // cross-entropy backward from five full passes to one. Its own backward uses public ops:
  // with p = exp(y), d/dg = gg - sum(gg p), d/dy = -gg p sum(g).
  auto& lb = ops::define_op("log_softmax_backward", OpKind::opaque, 2);
  lb.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    DS_CHECK(in[0].sizes() == in[1].sizes(), "[log_softmax_backward] grad shape ", to_string(in[0].sizes()),
             " does not match output shape ", to_string(in[1].sizes()));
    if (in[1].dim() > 0) wrap_dim(a.get<int64_t>("dim"), in[1].dim(), "log_softmax_backward");
    ops::promote_to_float(in);
    if (in[0].dtype() != in[1].dtype()) in[0] = cast(in[0], in[1].dtype());
    for (auto& t : in)
      if (!t.is_contiguous()) t = contiguous(t);
    return std::vector<TensorMeta>{ops::meta_of(in[1])};
  };
  lb.flops = [](auto&, const std::vector<TensorMeta>& out, auto&) { return 4.0 * numel(out[0].sizes); };
  lb.backward = [](const BackwardContext& c) {
    int64_t d = c.attrs.get<int64_t>("dim");
    const Tensor &g = c.inputs[0], &y = c.inputs[1], &gg = c.grads[0];
    Tensor p = exp(y);
    Grads r(2);
    if (c.needs_grad[0]) r[0] = sub(gg, sum(mul(gg, p), {d}, true));
    if (c.needs_grad[1]) r[1] = neg(mul(mul(gg, p), sum(g, {d}, true)));
    return r;
  };
}
DS_REGISTER(define);

Attrs red_attrs(const std::vector<int64_t>& dims, bool keepdim) {
  Attrs a;
  if (!dims.empty()) a.set("dims", ops::AttrValue(dims));
  if (keepdim) a.set("keepdim", ops::AttrValue(true));
  return a;
}
}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, std::optional<DType> dtype) {
  static const auto op = ops::op_id("sum");
  Attrs a = red_attrs(dims, keepdim);
  if (dtype) a.set("dtype", ops::dtype_attr(*dtype));
  return ops::dispatch1(op, {x}, a);
}
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  static const auto op = ops::op_id("mean");
  return ops::dispatch1(op, {x}, red_attrs(dims, keepdim));
}
Tensor prod(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  static const auto op = ops::op_id("prod");
  return ops::dispatch1(op, {x}, red_attrs(dim ? std::vector<int64_t>{*dim} : std::vector<int64_t>{}, keepdim));
}
Tensor amax(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  static const auto op = ops::op_id("amax");
  return ops::dispatch1(op, {x}, red_attrs(dims, keepdim));
}
Tensor amin(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  static const auto op = ops::op_id("amin");
  return ops::dispatch1(op, {x}, red_attrs(dims, keepdim));
}
Tensor any(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  static const auto op = ops::op_id("any");
  return ops::dispatch1(op, {x}, red_attrs(dims, keepdim));
}
Tensor all(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  static const auto op = ops::op_id("all");
  return ops::dispatch1(op, {x}, red_attrs(dims, keepdim));
}
std::tuple<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim) {
  static const auto op = ops::op_id("max_dim");
  auto r = ops::dispatch(op, {x}, Attrs().set("dim", ops::AttrValue(dim)).set("keepdim", ops::AttrValue(keepdim)));
  return {r[0], r[1]};
}
std::tuple<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim) {
  static const auto op = ops::op_id("min_dim");
  auto r = ops::dispatch(op, {x}, Attrs().set("dim", ops::AttrValue(dim)).set("keepdim", ops::AttrValue(keepdim)));
  return {r[0], r[1]};
}
Tensor max(const Tensor& x) { return amax(x); }
Tensor min(const Tensor& x) { return amin(x); }
Tensor argmax(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  static const auto op = ops::op_id("argmax");
  return ops::dispatch1(op, {x}, Attrs().set("dim", dim).set("keepdim", ops::AttrValue(keepdim)));
}
Tensor argmin(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  static const auto op = ops::op_id("argmin");
  return ops::dispatch1(op, {x}, Attrs().set("dim", dim).set("keepdim", ops::AttrValue(keepdim)));
}

Tensor softmax(const Tensor& x, int64_t dim) {
  static const auto op = ops::op_id("softmax");
  return ops::dispatch1(op, {x}, Attrs().set("dim", ops::AttrValue(dim)));
}
Tensor log_softmax(const Tensor& x, int64_t dim) {
  static const auto op = ops::op_id("log_softmax");
  return ops::dispatch1(op, {x}, Attrs().set("dim", ops::AttrValue(dim)));
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.sizes() == shape) return x;
  int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
  DS_CHECK(lead >= 0, "[sum_to] cannot sum shape ", to_string(x.sizes()), " to ", to_string(shape));
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < x.dim(); ++i) {
    if (i < lead) dims.push_back(i);
    else if (shape[i - lead] == 1 && x.sizes()[i] != 1) dims.push_back(i);
    else DS_CHECK(shape[i - lead] == x.sizes()[i], "[sum_to] cannot sum shape ",
                  to_string(x.sizes()), " to ", to_string(shape));
  }
  Tensor r = dims.empty() ? x : sum(x, dims, true);
  return lead > 0 || r.sizes() != shape ? reshape(r, shape) : r;
}

}  // namespace deepseek
