// Neural-network primitives: embedding (with its dedicated, deterministic backward op) and
// dropout (Philox). Dropout's mask is never stored: element i of a call with attrs
// (p, seed, offset) is kept iff Philox::uniform(block(seed, offset + i/4)[i % 4]) >= p — the
// same counter, lane and u32->float mapping as `rand` — so backward re-applies the op with the
// same attrs to the gradient, and a CUDA kernel can reproduce the mask bit for bit.
#include "deepseek/ops/defs/common.h"

namespace deepseek {
namespace {
using ops::Attrs;
using ops::BackwardContext;
using ops::OpKind;
using ops::TensorMeta;
using Grads = std::vector<Tensor>;
using AV = ops::AttrValue;

void check_indices(const Tensor& idx, const char* op) {
  DS_CHECK(idx.dtype() == DType::i64 || idx.dtype() == DType::i32, "[", op,
           "] indices must be an integer tensor (i64 or i32), got ", dtype_name(idx.dtype()));
}

std::optional<int64_t> padding_attr(const Attrs& a) { return a.optional_int("padding_idx"); }

// From embedding's backward rule the indices were range-checked by the forward (a saved input
// cannot change unnoticed), so `indices_checked` lets a GPU kernel skip a second check, which
// would wait for the device.
Tensor embedding_backward(const Tensor& grad, const Tensor& indices, int64_t num_weights,
                          std::optional<int64_t> padding_idx, bool indices_checked = false) {
  static const auto op = ops::op_id("embedding_backward");
  Attrs a;
  a.set("num_weights", AV(num_weights));
  a.set("padding_idx", padding_idx);
  if (indices_checked) a.set("indices_checked", AV(int64_t{1}));
  return ops::dispatch1(op, {grad, indices}, a);
}

Tensor dropout_with(const Tensor& x, const Attrs& a) {
  static const auto op = ops::op_id("dropout");
  return ops::dispatch1(op, {x}, a);
}

void define() {
  auto& e = ops::define_op("embedding", OpKind::opaque, 2);
  e.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    DS_CHECK(in[0].dim() == 2, "[embedding] weight must be 2-D (num_embeddings, embedding_dim), got shape ",
             to_string(in[0].sizes()));
    check_indices(in[1], "embedding");
    if (auto p = padding_attr(a))
      DS_CHECK(*p >= 0 && *p < in[0].sizes()[0], "[embedding] padding_idx ", *p,
               " is out of range for ", in[0].sizes()[0], " embeddings");
    if (!in[0].is_contiguous()) in[0] = contiguous(in[0]);
    if (!in[1].is_contiguous()) in[1] = contiguous(in[1]);
    Shape s = in[1].sizes();
    s.push_back(in[0].sizes()[1]);
    return std::vector<TensorMeta>{{s, in[0].dtype(), in[0].device()}};
  };
  e.nondiff_inputs = {1};
  e.save_all_inputs = false;
  e.save_inputs = {1};
  e.flops = [](auto&, auto&, auto&) { return 0.0; };
  e.channels.links = {{0, 1, -1}};
  e.backward = [](const BackwardContext& c) {
    return Grads{embedding_backward(c.grads[0], c.inputs[1], c.input_meta[0].sizes[0],
                                    padding_attr(c.attrs), true),
                 Tensor()};
  };

  // grad (*, D), indices (*) -> (num_weights, D): row w sums the grad rows whose index is w,
  // except padding_idx. Serial per column range, so the sums are deterministic.
  auto& eb = ops::define_op("embedding_backward", OpKind::opaque, 2);
  eb.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    check_indices(in[1], "embedding_backward");
    DS_CHECK(in[0].dim() == in[1].dim() + 1, "[embedding_backward] grad must have one more dim than indices");
    for (int64_t i = 0; i < in[1].dim(); ++i)
      DS_CHECK(in[0].sizes()[i] == in[1].sizes()[i], "[embedding_backward] grad shape ",
               to_string(in[0].sizes()), " does not match indices shape ", to_string(in[1].sizes()));
    if (!in[0].is_contiguous()) in[0] = contiguous(in[0]);
    if (!in[1].is_contiguous()) in[1] = contiguous(in[1]);
    return std::vector<TensorMeta>{{{a.get<int64_t>("num_weights"), in[0].sizes().back()},
                                    in[0].dtype(), in[0].device()}};
  };
  eb.nondiff_inputs = {1};
  eb.save_all_inputs = false;
  eb.save_inputs = {1};
  eb.backward = [](const BackwardContext& c) {
    // Linear in grad: its vjp gathers rows back, with padding rows giving zero.
    Tensor r = embedding(c.grads[0], c.inputs[1]);
    if (auto p = padding_attr(c.attrs))
      r = where(unsqueeze(ne(c.inputs[1], *p), -1), r, zeros({}, {r.dtype(), r.device()}));
    return Grads{r, Tensor()};
  };

  auto& d = ops::define_op("dropout", OpKind::elementwise, 1);
  d.random = true;
  d.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    double p = a.get<double>("p");
    DS_CHECK(p >= 0 && p <= 1, "[dropout] p must be in [0, 1], got ", p);
    DS_CHECK(is_floating(in[0].dtype()), "[dropout] input must be a floating-point tensor, got ",
             dtype_name(in[0].dtype()));
    // Element i is the i-th in row-major order: the kernel reads a contiguous input.
    if (!in[0].is_contiguous()) in[0] = contiguous(in[0]);
    return std::vector<TensorMeta>{ops::meta_of(in[0])};
  };
  d.save_all_inputs = false;
  d.backward = [](const BackwardContext& c) { return Grads{dropout_with(c.grads[0], c.attrs)}; };
  d.flops = [](auto&, const std::vector<TensorMeta>& out, auto&) { return 1.0 * numel(out[0].sizes); };
}
DS_REGISTER(define);
}  // namespace

Tensor embedding(const Tensor& weight, const Tensor& indices, std::optional<int64_t> padding_idx) {
  static const auto op = ops::op_id("embedding");
  DS_CHECK(weight.defined() && indices.defined(), "[embedding] weight and indices must be defined");
  if (padding_idx && *padding_idx < 0 && weight.dim() == 2) *padding_idx += weight.sizes()[0];
  Attrs a;
  a.set("padding_idx", padding_idx);
  return ops::dispatch1(op, {weight, indices}, a);
}

Tensor dropout(const Tensor& x, double p, bool training) {
  static const auto op = ops::op_id("dropout");
  DS_CHECK(x.defined(), "[dropout] input is an undefined tensor");
  DS_CHECK(p >= 0 && p <= 1, "[dropout] p must be in [0, 1], got ", p);
  DS_CHECK(is_floating(x.dtype()), "[dropout] input must be a floating-point tensor, got ",
           dtype_name(x.dtype()));
  if (!training || p == 0) return x;
  auto st = default_generator(x.device()).reserve(static_cast<uint64_t>(x.numel()));
  Attrs a;
  a.set("p", AV(p)).set("seed", AV(static_cast<int64_t>(st.seed))).set("offset", AV(static_cast<int64_t>(st.offset)));
  return ops::dispatch1(op, {x}, a);
}

}  // namespace deepseek
