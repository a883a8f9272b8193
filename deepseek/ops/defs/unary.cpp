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
  unary("relu", P::keep_no_bool,
        [](auto& c) { return Grads{mul(G(c), cast(gt(Y(c), 0), G(c).dtype()))}; }, false, true);
  auto& gelu_def = unary("gelu", P::to_float, [](auto& c) {
    const Tensor& x = X(c);
    if (c.attrs.template get<std::string>("approximate", "none") == "tanh") {
      // d/dx 0.5x(1+tanh(u)), u = k(x + 0.044715x^3), k = sqrt(2/pi)
      const double k = 0.7978845608028654;
      Tensor x2 = square(x);
      Tensor t = tanh(mul(x, add(mul(x2, 0.044715 * k), k)));
      Tensor du = add(mul(x2, 3 * 0.044715 * k), k);
      Tensor d = add(mul(add(t, 1), 0.5), mul(mul(mul(x, rsub(square(t), 1)), du), 0.5));
      return Grads{mul(G(c), d)};
    }
    // d/dx x*Phi(x) = Phi(x) + x*phi(x)
    Tensor Phi = mul(add(erf(mul(x, 0.7071067811865476)), 1), 0.5);
    Tensor phi = mul(exp(mul(square(x), -0.5)), 0.3989422804014327);
    return Grads{mul(G(c), add(Phi, mul(x, phi)))};
  }, true, false, 12);
  (void)gelu_def;
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
