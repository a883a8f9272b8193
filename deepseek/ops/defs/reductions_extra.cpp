// The remaining reductions. var and std are two-pass composites (mean, then the sum of
// squared deviations: no cancellation, unlike E[x²] - E[x]²); logsumexp subtracts the max
// first. norm is a primitive so its backward can give the subgradient 0 at a zero vector (as
// PyTorch) instead of the 0/0 a composite sqrt(sum(x²)) would produce; cumsum is a
// primitive (a scan is one pass; a composite would be quadratic).
#include <cmath>
#include <limits>

#include "deepseek/ops/defs/common.h"

namespace deepseek {
namespace {
using ops::Attrs;
using ops::BackwardContext;
using ops::OpKind;
using ops::TensorMeta;
using Grads = std::vector<Tensor>;

std::vector<int64_t> dims_of(const Attrs& a) { return a.get<std::vector<int64_t>>("dims", {}); }

Shape reduced_shape(const Shape& in, const std::vector<bool>& mask, bool keepdim) {
  Shape out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (!mask[i]) out.push_back(in[i]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

// A reduced tensor broadcast back over the reduced dims of `in`.
Tensor expand_back(const Tensor& g, const Shape& in, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor r = g;
  if (!keepdim) {
    auto mask = dims_mask(dims, static_cast<int64_t>(in.size()), "norm");
    for (size_t i = 0; i < in.size(); ++i)
      if (mask[i]) r = unsqueeze(r, static_cast<int64_t>(i));
  }
  return expand(r, in);
}

void define_norm() {
  auto& n = ops::define_op("norm", OpKind::reduction, 1);
  n.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    const Tensor& x = in[0];
    DS_CHECK(is_floating(x.dtype()), "[norm] needs a floating-point input, got ", dtype_name(x.dtype()));
    double p = a.get<double>("p");
    DS_CHECK(!std::isnan(p), "[norm] p must not be NaN");
    auto mask = dims_mask(dims_of(a), x.dim(), "norm");
    if (std::isinf(p))
      for (int64_t d = 0; d < x.dim(); ++d)
        DS_CHECK(!mask[d] || x.sizes()[d] > 0, "[norm] the ", p > 0 ? "inf" : "-inf",
                 "-norm over a dim of size 0 has no identity");
    Shape s = reduced_shape(x.sizes(), mask, a.get<bool>("keepdim", false));
    return std::vector<TensorMeta>{{s, x.dtype(), x.device()}};
  };
  n.save_all_inputs = true;
  n.save_outputs = {0};
  n.flops = [](const std::vector<TensorMeta>& in, auto&, auto&) { return 2.0 * numel(in[0].sizes); };
  n.backward = [](const BackwardContext& c) {
    const Tensor& x = c.inputs[0];
    double p = c.attrs.get<double>("p");
    bool keep = c.attrs.get<bool>("keepdim", false);
    auto dims = dims_of(c.attrs);
    Tensor y = expand_back(c.outputs[0], x.sizes(), dims, keep);
    Tensor g = expand_back(c.grads[0], x.sizes(), dims, keep);
    Tensor zero = zeros({}, {x.dtype(), x.device()});
    if (p == 0) return Grads{zeros_like(x)};
    if (p == 1) return Grads{mul(g, sign(x))};
    if (p == 2) return Grads{mul(x, where(eq(y, 0), zero, div(g, y)))};
    if (std::isinf(p)) {
      // Evenly split among the elements that reach the max (min) magnitude.
      Tensor hit = cast(eq(abs(x), y), x.dtype());
      Tensor count = expand_back(sum(hit, dims, keep), x.sizes(), dims, keep);
      return Grads{div(mul(mul(g, sign(x)), hit), count)};
    }
    // d/dx (sum |x|^p)^(1/p) = sign(x) (|x| / y)^(p-1)
    Tensor r = mul(mul(g, sign(x)), pow(div(abs(x), y), p - 1));
    return Grads{where(eq(y, 0), zero, r)};
  };
}

void define_cumsum() {
  auto& c = ops::define_op("cumsum", OpKind::opaque, 1);
  c.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    wrap_dim(a.get<int64_t>("dim"), in[0].dim(), "cumsum");
    DType t = is_floating(in[0].dtype()) ? in[0].dtype() : DType::i64;
    return std::vector<TensorMeta>{{in[0].sizes(), t, in[0].device()}};
  };
  c.save_all_inputs = false;
  c.channels.passthrough = true;
  c.backward = [](const BackwardContext& ctx) {
    const Tensor& g = ctx.grads[0];
    if (g.dim() == 0) return Grads{g};
    int64_t d = wrap_dim(ctx.attrs.get<int64_t>("dim"), g.dim(), "cumsum");
    return Grads{flip(cumsum(flip(g, {d}), d), {d})};  // reverse cumulative sum
  };
}

void define() {
  define_norm();
  define_cumsum();
}
DS_REGISTER(define);

Attrs red_attrs(const std::vector<int64_t>& dims, bool keepdim) {
  Attrs a;
  if (!dims.empty()) a.set("dims", ops::AttrValue(dims));
  if (keepdim) a.set("keepdim", ops::AttrValue(true));
  return a;
}

void check_float(const Tensor& x, const char* op) {
  DS_CHECK(x.defined(), "[", op, "] undefined tensor");
  DS_CHECK(is_floating(x.dtype()), "[", op, "] needs a floating-point input, got ", dtype_name(x.dtype()),
           "; cast it first");
}
}  // namespace

Tensor var(const Tensor& x, const std::vector<int64_t>& dims, double correction, bool keepdim) {
  check_float(x, "var");
  auto mask = dims_mask(dims, x.dim(), "var");
  int64_t n = 1;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (mask[d]) n *= x.sizes()[d];
  Tensor dev = sub(x, mean(x, dims, true));
  // n <= correction gives inf or nan, as PyTorch.
  return div(sum(mul(dev, dev), dims, keepdim), std::max(0.0, static_cast<double>(n) - correction));
}

Tensor std(const Tensor& x, const std::vector<int64_t>& dims, double correction, bool keepdim) {
  check_float(x, "std");
  dims_mask(dims, x.dim(), "std");
  return sqrt(var(x, dims, correction, keepdim));
}

Tensor norm(const Tensor& x, double p, const std::vector<int64_t>& dims, bool keepdim) {
  static const auto op = ops::op_id("norm");
  return ops::dispatch1(op, {x}, red_attrs(dims, keepdim).set("p", ops::AttrValue(p)));
}

Tensor logsumexp(const Tensor& x_in, const std::vector<int64_t>& dims, bool keepdim) {
  DS_CHECK(x_in.defined(), "[logsumexp] undefined tensor");
  Tensor x = is_floating(x_in.dtype()) ? x_in : cast(x_in, DType::f32);
  auto mask = dims_mask(dims, x.dim(), "logsumexp");
  Shape out = reduced_shape(x.sizes(), mask, keepdim);
  if (x.numel() == 0) return log(sum(exp(x), dims, keepdim));  // -inf, as PyTorch
  // Shift by the max; an infinite max (all -inf, or a +inf present) is not subtracted, so
  // the result is -inf / +inf instead of NaN.
  Tensor m = amax(x, dims, true);
  Tensor shift = where(eq(abs(m), std::numeric_limits<double>::infinity()), zeros({}, {x.dtype(), x.device()}), m);
  Tensor r = add(log(sum(exp(sub(x, shift)), dims, true)), shift);
  return keepdim ? r : reshape(r, out);
}

Tensor cumsum(const Tensor& x, int64_t dim) {
  static const auto op = ops::op_id("cumsum");
  return ops::dispatch1(op, {x}, Attrs().set("dim", ops::AttrValue(dim)));
}

}  // namespace deepseek
