// gather, scatter and scatter_add along one dim (PyTorch semantics: index has the same
// number of dims as the input and is no larger than it outside `dim`).
#include "deepseek/ops/defs/common.h"

namespace deepseek {
namespace {
using ops::Attrs;
using ops::BackwardContext;
using ops::OpKind;
using ops::TensorMeta;
using Grads = std::vector<Tensor>;

void check_index(const Tensor& x, int64_t dim, const Tensor& index, const Tensor* src, const char* op) {
  DS_CHECK(index.dtype() == DType::i64 || index.dtype() == DType::i32, "[", op,
           "] index must be an integer tensor (i64 or i32), got ", dtype_name(index.dtype()));
  DS_CHECK(index.dim() == x.dim() || (x.dim() == 0 && index.dim() <= 1), "[", op,
           "] index must have as many dims as the input (", x.dim(), "), got ", index.dim());
  int64_t d = wrap_dim(dim, x.dim(), op);
  for (int64_t i = 0; i < index.dim() && x.dim() > 0; ++i) {
    if (i != d)
      DS_CHECK(index.sizes()[i] <= x.sizes()[i], "[", op, "] index size ", index.sizes()[i],
               " exceeds the input's size ", x.sizes()[i], " in dim ", i);
    if (src) DS_CHECK(index.sizes()[i] <= src->sizes()[i], "[", op, "] index size ", index.sizes()[i],
                      " exceeds src's size ", src->sizes()[i], " in dim ", i);
  }
  if (src) DS_CHECK(src->dim() == index.dim(), "[", op, "] src must have as many dims as index");
}

void define() {
  auto& g = ops::define_op("gather", OpKind::opaque, 2);
  g.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    check_index(in[0], a.get<int64_t>("dim"), in[1], nullptr, "gather");
    return std::vector<TensorMeta>{{in[1].sizes(), in[0].dtype(), in[0].device()}};
  };
  g.nondiff_inputs = {1};
  g.save_all_inputs = false;
  g.save_inputs = {1};
  g.backward = [](const BackwardContext& c) {
    // A broadcast zero: scatter_add's kernel then only writes its output's zeros instead of
    // reading a materialized zeros tensor (a large share of cross-entropy's backward).
    const Shape& xs = c.input_meta[0].sizes;
    // The forward range-checked the saved index: `indices_checked` spares a GPU kernel the
    // second check, which would wait for the device.
    static const auto scatter_add_op = ops::op_id("scatter_add");
    Tensor z = expand(zeros(Shape(xs.size(), 1), {c.grads[0].dtype(), c.grads[0].device()}), xs);
    Attrs a = Attrs()
                  .set("dim", ops::AttrValue(c.attrs.get<int64_t>("dim")))
                  .set("indices_checked", ops::AttrValue(int64_t{1}));
    return Grads{ops::dispatch1(scatter_add_op, {z, c.inputs[1], c.grads[0]}, a), Tensor()};
  };

  for (const char* n : {"scatter", "scatter_add"}) {
    bool add = std::string(n) == "scatter_add";
    auto& s = ops::define_op(n, OpKind::opaque, 3);
    s.infer = [n](std::vector<Tensor>& in, const Attrs& a) {
      check_index(in[0], a.get<int64_t>("dim"), in[1], &in[2], n);
      if (in[2].dtype() != in[0].dtype()) in[2] = cast(in[2], in[0].dtype());
      return std::vector<TensorMeta>{ops::meta_of(in[0])};
    };
    s.nondiff_inputs = {1};
    s.save_all_inputs = false;
    s.save_inputs = {1};
    if (!add) s.deterministic = true;  // duplicates: last write wins in our serial kernel
    s.backward = [add](const BackwardContext& c) {
      int64_t dim = c.attrs.get<int64_t>("dim");
      const Tensor& idx = c.inputs[1];
      Grads r(3);
      if (c.needs_grad[0])
        r[0] = add ? c.grads[0] : scatter(c.grads[0], dim, idx, zeros(idx.sizes(), {c.grads[0].dtype(), c.grads[0].device()}));
      if (c.needs_grad[2]) r[2] = gather(c.grads[0], dim, idx);
      return r;
    };
  }
}
DS_REGISTER(define);
}  // namespace

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  static const auto op = ops::op_id("gather");
  return ops::dispatch1(op, {x, index}, Attrs().set("dim", ops::AttrValue(dim)));
}
Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  static const auto op = ops::op_id("scatter");
  return ops::dispatch1(op, {x, index, src}, Attrs().set("dim", ops::AttrValue(dim)));
}
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  static const auto op = ops::op_id("scatter_add");
  return ops::dispatch1(op, {x, index, src}, Attrs().set("dim", ops::AttrValue(dim)));
}

}  // namespace deepseek
