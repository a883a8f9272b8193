// Binary and ternary elementwise ops with broadcasting and PyTorch's type promotion.
// Comparisons and logical ops return bool and are not differentiable. Gradients of broadcast
// inputs are summed back to the input's shape by autograd (reduce_grad_to).
#include "deepseek/ops/defs/common.h"

namespace deepseek {
namespace {
using ops::Attrs;
using ops::BackwardContext;
using ops::OpKind;
using ops::TensorMeta;
using Grads = std::vector<Tensor>;

enum class Out { promoted, boolean, floating };

ops::OpDef& binary(const char* name, Out out, ops::BackwardFn bw, std::vector<int> saves = {0, 1},
                   bool save_output = false) {
  auto& d = ops::define_op(name, OpKind::elementwise, 2);
  d.infer = [out](std::vector<Tensor>& in, const Attrs&) {
    Shape s = ops::broadcast_all(in, "binary");
    DType t = ops::promoted_dtype(in);
    if (out == Out::floating && !is_floating(t)) t = DType::f32;
    ops::cast_inputs(in, t);
    return std::vector<TensorMeta>{{s, out == Out::boolean ? DType::b8 : t, in[0].device()}};
  };
  d.backward = std::move(bw);
  if (!d.backward) d.differentiable = false;
  d.save_all_inputs = false;
  d.save_inputs = saves;
  if (save_output) d.save_outputs = {0};
  return d;
}

const Tensor& G(const BackwardContext& c) { return c.grads[0]; }
const Tensor& A(const BackwardContext& c) { return c.inputs[0]; }
const Tensor& B(const BackwardContext& c) { return c.inputs[1]; }

void define() {
  binary("add", Out::promoted, [](auto& c) {
    Scalar alpha = c.attrs.has("alpha") ? c.attrs.scalar("alpha") : Scalar(1);
    return Grads{G(c), alpha.to_double() == 1 ? G(c) : mul(G(c), alpha)};
  }, {});
  binary("sub", Out::promoted, [](auto& c) {
    Scalar alpha = c.attrs.has("alpha") ? c.attrs.scalar("alpha") : Scalar(1);
    return Grads{G(c), alpha.to_double() == 1 ? neg(G(c)) : mul(G(c), -alpha.to_double())};
  }, {});
  binary("mul", Out::promoted, [](auto& c) {
    Grads r(2);
    if (c.needs_grad[0]) r[0] = mul(G(c), B(c));
    if (c.needs_grad[1]) r[1] = mul(G(c), A(c));
    return r;
  });
  binary("div", Out::floating, [](auto& c) {
    Grads r(2);
    if (c.needs_grad[0]) r[0] = div(G(c), B(c));
    if (c.needs_grad[1]) r[1] = neg(div(mul(G(c), A(c)), square(B(c))));
    return r;
  });
  binary("pow", Out::promoted, [](auto& c) {
    Grads r(2);
    // d/da a^b = b a^(b-1);  d/db a^b = a^b log a (taken as 0 where a == 0, as PyTorch does)
    if (c.needs_grad[0]) r[0] = mul(G(c), mul(B(c), pow(A(c), sub(B(c), 1))));
    if (c.needs_grad[1]) {
      Tensor y = pow(A(c), B(c));
      Tensor lg = where(eq(A(c), 0), zeros_like(y), mul(y, log(A(c))));
      r[1] = mul(G(c), lg);
    }
    return r;
  });
  auto minmax_bw = [](bool is_max) {
    return [is_max](const BackwardContext& c) {
      // Ties split the gradient evenly, as in PyTorch.
      Tensor a_wins = cast(is_max ? gt(A(c), B(c)) : lt(A(c), B(c)), G(c).dtype());
      Tensor tie = cast(eq(A(c), B(c)), G(c).dtype());
      Tensor wa = add(a_wins, mul(tie, 0.5));
      return Grads{mul(G(c), wa), mul(G(c), rsub(wa, 1))};
    };
  };
  binary("maximum", Out::promoted, minmax_bw(true));
  binary("minimum", Out::promoted, minmax_bw(false));
  for (const char* n : {"eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or"})
    binary(n, Out::boolean, nullptr, {});

  auto& w = ops::define_op("where", OpKind::elementwise, 3);
  w.infer = [](std::vector<Tensor>& in, const Attrs&) {
    DS_CHECK(in[0].dtype() == DType::b8, "condition must be a bool tensor, got ",
             dtype_name(in[0].dtype()));
    Shape s = ops::broadcast_all(in, "where");
    std::vector<Tensor> vals{in[1], in[2]};
    DType t = ops::promoted_dtype(vals);
    ops::cast_inputs(in, t, 1);
    return std::vector<TensorMeta>{{s, t, in[1].device()}};
  };
  w.nondiff_inputs = {0};
  w.save_all_inputs = false;
  w.save_inputs = {0};
  w.backward = [](const BackwardContext& c) {
    Tensor z = zeros_like(G(c));
    return Grads{Tensor(), where(c.inputs[0], G(c), z), where(c.inputs[0], z, G(c))};
  };
}
DS_REGISTER(define);

Tensor call2(ops::OpId op, const Tensor& a, const Tensor& b, Attrs attrs = {}) {
  return ops::dispatch1(op, {a, b}, std::move(attrs));
}
Tensor wrap(const Tensor& like, const Scalar& s) {
  DS_CHECK(like.defined(), "undefined tensor");
  return ops::wrap_scalar(s, like);
}
}  // namespace

#define DS_BINARY(fn)                                                        \
  Tensor fn(const Tensor& a, const Tensor& b) {                              \
    static const auto op = ops::op_id(#fn);                                  \
    return call2(op, a, b);                                                  \
  }                                                                          \
  Tensor fn(const Tensor& a, const Scalar& b) { return fn(a, wrap(a, b)); }
DS_BINARY(mul)
DS_BINARY(div)
DS_BINARY(maximum)
DS_BINARY(minimum)
DS_BINARY(eq)
DS_BINARY(ne)
DS_BINARY(lt)
DS_BINARY(le)
DS_BINARY(gt)
DS_BINARY(ge)
#undef DS_BINARY

Tensor add(const Tensor& a, const Tensor& b, const Scalar& alpha) {
  static const auto op = ops::op_id("add");
  Attrs at;
  if (alpha.to_double() != 1) at.set("alpha", alpha);
  return call2(op, a, b, at);
}
Tensor sub(const Tensor& a, const Tensor& b, const Scalar& alpha) {
  static const auto op = ops::op_id("sub");
  Attrs at;
  if (alpha.to_double() != 1) at.set("alpha", alpha);
  return call2(op, a, b, at);
}
Tensor add(const Tensor& a, const Scalar& b) { return add(a, wrap(a, b)); }
Tensor sub(const Tensor& a, const Scalar& b) { return sub(a, wrap(a, b)); }
Tensor rsub(const Tensor& a, const Scalar& b) { return sub(wrap(a, b), a); }
Tensor pow(const Tensor& a, const Tensor& b) {
  static const auto op = ops::op_id("pow");
  return call2(op, a, b);
}
Tensor logical_and(const Tensor& a, const Tensor& b) {
  static const auto op = ops::op_id("logical_and");
  return call2(op, a, b);
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  static const auto op = ops::op_id("logical_or");
  return call2(op, a, b);
}
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  static const auto op = ops::op_id("where");
  return ops::dispatch1(op, {cond, a, b});
}
Tensor where(const Tensor& cond, const Tensor& a, const Scalar& b) { return where(cond, a, wrap(a, b)); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& a) { return neg(a); }
Tensor operator+(const Tensor& a, const Scalar& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Scalar& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Scalar& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Scalar& b) { return div(a, b); }
Tensor operator+(const Scalar& a, const Tensor& b) { return add(b, a); }
Tensor operator-(const Scalar& a, const Tensor& b) { return rsub(b, a); }
Tensor operator*(const Scalar& a, const Tensor& b) { return mul(b, a); }
Tensor operator/(const Scalar& a, const Tensor& b) { return div(wrap(b, a), b); }

}  // namespace deepseek
