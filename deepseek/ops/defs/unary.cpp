// Unary elementwise ops. Integer inputs to floating functions (exp of an i64) are promoted to
// f32 first, as in PyTorch; sign-like ops keep integer types. Backward rules use public ops.
#include <cmath>

#include "deepseek/ops/defs/common.h"

namespace deepseek {
namespace {
using ops::Attrs;
using ops::BackwardContext;
using ops::OpKind;
using ops::TensorMeta;
using Grads = std::vector<Tensor>;

const Tensor& X(const BackwardContext& c) { return c.inputs[0]; }
const Tensor& Y(const BackwardContext& c) { return c.outputs[0]; }
const Tensor& G(const BackwardContext& c) { return c.grads[0]; }

enum class IntPolicy { to_float, keep, keep_no_bool };

ops::OpDef& unary(const char* name, IntPolicy policy, ops::BackwardFn bw, bool saves_input,
                  bool saves_output, double flops_per_element = 1) {
  auto& d = ops::define_op(name, OpKind::elementwise, 1);
  d.infer = [policy, name](std::vector<Tensor>& in, const Attrs&) {
    if (policy == IntPolicy::to_float) ops::promote_to_float(in);
    if (policy == IntPolicy::keep_no_bool)
      DS_CHECK(in[0].dtype() != DType::b8, "[", name, "] is not defined for bool tensors");
    return std::vector<TensorMeta>{ops::meta_of(in[0])};
  };
  d.backward = std::move(bw);
  d.save_all_inputs = false;
  if (saves_input) d.save_inputs = {0};
  if (saves_output) d.save_outputs = {0};
  d.flops = [flops_per_element](const std::vector<TensorMeta>&, const std::vector<TensorMeta>& out,
                                const Attrs&) { return flops_per_element * numel(out[0].sizes); };
  return d;
}

Tensor zero_grad(const BackwardContext& c) { return zeros_like(G(c)); }

Tensor relu_backward_op(const Tensor& g, const Tensor& y) {
  static const auto op = ops::op_id("relu_backward");
  return ops::dispatch1(op, {g, y});
}

Tensor gelu_backward_op(const Tensor& g, const Tensor& x, const std::string& approximate) {
  static const auto op = ops::op_id("gelu_backward");
  return ops::dispatch1(op, {g, x}, Attrs().set("approximate", approximate));
}

// gelu'(x) (order 1) or gelu''(x) (order 2) with public ops.
//   erf form:  f = x Phi(x):  f' = Phi + x phi,  f'' = phi (2 - x^2)
//   tanh form: f = x (1 + t) / 2, t = tanh(u), u = k (x + a x^3):
//              f' = (1 + t) / 2 + x (1 - t^2) u' / 2,  f'' = (1 - t^2) (u' + x (u'' - 2 t u'^2) / 2)
Tensor gelu_derivative(const Tensor& x, bool tanh_form, int order) {
  Tensor x2 = square(x);
  if (tanh_form) {
    const double k = 0.7978845608028654, a = 0.044715;
    Tensor t = tanh(mul(x, add(mul(x2, a * k), k)));
    Tensor sech2 = rsub(square(t), 1);
    Tensor du = add(mul(x2, 3 * a * k), k);  // u'
    if (order == 1) return add(mul(add(t, 1), 0.5), mul(mul(mul(x, sech2), du), 0.5));
    Tensor ddu = mul(x, 6 * a * k);  // u''
    Tensor inner = add(du, mul(mul(x, sub(ddu, mul(mul(t, square(du)), 2))), 0.5));
    return mul(sech2, inner);
  }
  Tensor phi = mul(exp(mul(x2, -0.5)), 0.3989422804014327);
  if (order == 1) return add(mul(add(erf(mul(x, 0.7071067811865476)), 1), 0.5), mul(x, phi));
  return mul(phi, rsub(x2, 2));
}

void define() {
  using P = IntPolicy;
  unary("neg", P::keep_no_bool, [](auto& c) { return Grads{neg(G(c))}; }, false, false);
  unary("abs", P::keep_no_bool, [](auto& c) { return Grads{mul(G(c), sign(X(c)))}; }, true, false);
  unary("exp", P::to_float, [](auto& c) { return Grads{mul(G(c), Y(c))}; }, false, true, 8);
  unary("log", P::to_float, [](auto& c) { return Grads{div(G(c), X(c))}; }, true, false, 8);
  unary("log1p", P::to_float, [](auto& c) { return Grads{div(G(c), add(X(c), 1))}; }, true, false, 8);
  unary("expm1", P::to_float, [](auto& c) { return Grads{mul(G(c), add(Y(c), 1))}; }, false, true, 8);
  unary("sqrt", P::to_float, [](auto& c) { return Grads{div(G(c), mul(Y(c), 2))}; }, false, true, 4);
  unary("rsqrt", P::to_float,
        [](auto& c) { return Grads{mul(G(c), mul(pow(Y(c), 3), -0.5))}; }, false, true, 4);
  unary("sin", P::to_float, [](auto& c) { return Grads{mul(G(c), cos(X(c)))}; }, true, false, 8);
  unary("cos", P::to_float, [](auto& c) { return Grads{mul(G(c), neg(sin(X(c))))}; }, true, false, 8);
  unary("tanh", P::to_float,
        [](auto& c) { return Grads{mul(G(c), rsub(square(Y(c)), 1))}; }, false, true, 8);
  unary("sigmoid", P::to_float,
        [](auto& c) { return Grads{mul(G(c), mul(Y(c), rsub(Y(c), 1)))}; }, false, true, 8);
  // relu's gradient is one fused op (g where y > 0, else 0) instead of compare, cast and mul.
  unary("relu", P::keep_no_bool, [](auto& c) { return Grads{relu_backward_op(G(c), Y(c))}; }, false, true);
  auto& rb = ops::define_op("relu_backward", OpKind::elementwise, 2);
  rb.infer = [](std::vector<Tensor>& in, const Attrs&) {
    Shape s = ops::broadcast_all(in, "relu_backward");
    DType t = ops::promoted_dtype(in);
    DS_CHECK(is_floating(t), "[relu_backward] expects floating-point tensors, got ", dtype_name(t));
    ops::cast_inputs(in, t);
    return std::vector<TensorMeta>{{s, t, in[0].device()}};
  };
  rb.nondiff_inputs = {1};  // y only masks
  rb.save_all_inputs = false;
  rb.save_inputs = {1};
  rb.backward = [](const BackwardContext& c) {  // the mask's derivative is zero almost everywhere
    return Grads{c.needs_grad[0] ? relu_backward_op(G(c), c.inputs[1]) : Tensor(), Tensor()};
  };
  // gelu's gradient is one fused op (gelu_backward), as PyTorch's: the composite took a dozen
  // full-size passes. gelu_backward's own backward (double backward) is the composite.
  unary("gelu", P::to_float, [](auto& c) {
    return Grads{gelu_backward_op(G(c), X(c), c.attrs.template get<std::string>("approximate", "none"))};
  }, true, false, 12);
  auto& gb = ops::define_op("gelu_backward", OpKind::elementwise, 2);
  gb.infer = [](std::vector<Tensor>& in, const Attrs&) {
    Shape s = ops::broadcast_all(in, "gelu_backward");
    DType t = ops::promoted_dtype(in);
    if (!is_floating(t)) t = DType::f32;
    ops::cast_inputs(in, t);
    return std::vector<TensorMeta>{{s, t, in[0].device()}};
  };
  gb.flops = [](auto&, auto& out, auto&) { return 16.0 * numel(out[0].sizes); };
  gb.backward = [](const BackwardContext& c) {
    const Tensor &g = c.inputs[0], &x = c.inputs[1];
    bool tanh_form = c.attrs.template get<std::string>("approximate", "none") == "tanh";
    Grads r(2);
    if (c.needs_grad[0]) r[0] = mul(G(c), gelu_derivative(x, tanh_form, 1));
    if (c.needs_grad[1]) r[1] = mul(mul(G(c), g), gelu_derivative(x, tanh_form, 2));
    return r;
  };
  unary("erf", P::to_float, [](auto& c) {
    return Grads{mul(G(c), mul(exp(neg(square(X(c)))), 1.1283791670955126))};
  }, true, false, 8);
  unary("silu", P::to_float, [](auto& c) {
    Tensor s = sigmoid(X(c));
    return Grads{mul(G(c), mul(s, add(mul(X(c), rsub(s, 1)), 1)))};
  }, true, false, 10);
  unary("softplus", P::to_float, [](auto& c) {
    double beta = c.attrs.template get<double>("beta"), th = c.attrs.template get<double>("threshold");
    Tensor bx = mul(X(c), beta);
    return Grads{mul(G(c), where(gt(bx, th), ones_like(bx), sigmoid(bx)))};
  }, true, false, 10);
  for (const char* n : {"sign", "floor", "ceil", "round"})
    unary(n, P::keep, [](auto& c) { return Grads{zero_grad(c)}; }, false, false);
  unary("clamp", P::keep_no_bool, [](auto& c) {
    Tensor keep = ones_like(X(c));
    if (c.attrs.has("min")) keep = mul(keep, cast(ge(X(c), c.attrs.scalar("min")), keep.dtype()));
    if (c.attrs.has("max")) keep = mul(keep, cast(le(X(c), c.attrs.scalar("max")), keep.dtype()));
    return Grads{mul(G(c), keep)};
  }, true, false);
  unary("pow_scalar", P::keep_no_bool, [](auto& c) {
    Scalar e = c.attrs.scalar("exponent");
    if (e.to_double() == 0) return Grads{zero_grad(c)};
    return Grads{mul(G(c), mul(pow(X(c), Scalar(e.to_double() - 1)), e))};
  }, true, false, 8);
  unary("reciprocal", P::to_float,
        [](auto& c) { return Grads{mul(G(c), neg(square(Y(c))))}; }, false, true);
  auto& ln = unary("logical_not", P::keep, nullptr, false, false);
  ln.differentiable = false;
  ln.infer = [](std::vector<Tensor>& in, const Attrs&) {
    return std::vector<TensorMeta>{ops::meta_of(in[0], DType::b8)};
  };
}
DS_REGISTER(define);

Tensor call(const char* name, const Tensor& x, Attrs a = {}) {
  return ops::dispatch1(ops::op_id(name), {x}, std::move(a));
}
}  // namespace

#define DS_UNARY(fn)                                 \
  Tensor fn(const Tensor& x) {                       \
    static const auto op = ops::op_id(#fn);          \
    return ops::dispatch1(op, {x});                  \
  }
DS_UNARY(neg)
DS_UNARY(abs)
DS_UNARY(exp)
DS_UNARY(log)
DS_UNARY(log1p)
DS_UNARY(expm1)
DS_UNARY(sqrt)
DS_UNARY(rsqrt)
DS_UNARY(sin)
DS_UNARY(cos)
DS_UNARY(tanh)
DS_UNARY(sigmoid)
DS_UNARY(relu)
DS_UNARY(silu)
DS_UNARY(sign)
DS_UNARY(floor)
DS_UNARY(ceil)
DS_UNARY(round)
DS_UNARY(reciprocal)
DS_UNARY(erf)
DS_UNARY(logical_not)
#undef DS_UNARY

Tensor gelu(const Tensor& x, const std::string& approximate) {
  DS_CHECK(approximate == "none" || approximate == "tanh",
           "[gelu] approximate must be 'none' or 'tanh', got '", approximate, "'");
  return call("gelu", x, Attrs().set("approximate", approximate));
}

Tensor softplus(const Tensor& x, double beta, double threshold) {
  return call("softplus", x, Attrs().set("beta", beta).set("threshold", threshold));
}

Tensor clamp(const Tensor& x, std::optional<Scalar> min, std::optional<Scalar> max) {
  Attrs a;
  if (min) a.set("min", *min);
  if (max) a.set("max", *max);
  return call("clamp", x, a);
}

Tensor pow(const Tensor& x, const Scalar& exponent) {
  if (exponent.to_double() == 1) return x;
  return call("pow_scalar", x, Attrs().set("exponent", exponent));
}

Tensor square(const Tensor& x) { return mul(x, x); }

}  // namespace deepseek
