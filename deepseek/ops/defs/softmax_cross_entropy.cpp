// softmax_cross_entropy: cross-entropy of logits (N, C) against class indices (N), fused, for
// devices with a kernel (CUDA). cross_entropy takes it for 2-D logits without class weights or
// label smoothing; elsewhere its composite (log_softmax, gather) runs.
//
// Forward: each row's log-sum-exp in one read of the logits, loss_i = lse_i - x_i[t_i] (0 where
// t_i is ignore_index); outputs the per-row losses and lse, both in the accumulation dtype (f32
// for f16/bf16 logits, which are read as they are: no f32 copy of a vocabulary-wide
// activation, as autocast's f32 log_softmax makes). The backward reads the logits once more
// and writes g_i (softmax(x_i) - onehot(t_i)): no log-probabilities are kept, and no zeros
// tensor is scattered into, as log_softmax + gather need.
#include "deepseek/ops/softmax_cross_entropy.h"

#include "deepseek/autograd/grad_mode.h"
#include "deepseek/ops/defs/common.h"

namespace deepseek {
namespace {
using ops::Attrs;
using ops::BackwardContext;
using ops::OpKind;
using ops::TensorMeta;
using Grads = std::vector<Tensor>;

const char* kOp = "softmax_cross_entropy";
const char* kBackward = "softmax_cross_entropy_backward";

DType acc_dtype(DType t) { return t == DType::f64 ? DType::f64 : DType::f32; }

void check_logits_target(std::vector<Tensor>& in, size_t logits, size_t target, const char* op) {
  const Tensor &x = in[logits], &t = in[target];
  DS_CHECK(x.defined() && is_floating(x.dtype()) && x.dim() == 2, "[", op,
           "] logits must be a 2-D (N, C) floating-point tensor, got ",
           x.defined() ? std::string(dtype_name(x.dtype())) + " " + to_string(x.sizes()) : std::string("an undefined tensor"));
  DS_CHECK(t.defined() && (t.dtype() == DType::i64 || t.dtype() == DType::i32) && t.sizes() == Shape{x.sizes()[0]},
           "[", op, "] target must be (", x.sizes()[0], ") class indices (i64 or i32), got ",
           t.defined() ? std::string(dtype_name(t.dtype())) + " " + to_string(t.sizes()) : std::string("an undefined tensor"));
  if (!x.is_contiguous()) in[logits] = contiguous(x);
  if (!t.is_contiguous()) in[target] = contiguous(t);
}

// d loss_i / d x_i = g_i (softmax(x_i) - onehot(t_i)), 0 on ignored rows, with public ops (so
// double backward works).
Tensor composite_backward(const Tensor& g, const Tensor& x, const Tensor& t, int64_t ignore_index) {
  Tensor valid = ne(t, ignore_index);
  Tensor onehot = cast(one_hot(where(valid, t, 0), x.sizes()[1]), x.dtype());
  Tensor gv = cast(mul(g, cast(valid, g.dtype())), x.dtype());
  return mul(sub(softmax(x, 1), onehot), unsqueeze(gv, 1));
}

void define() {
  auto& f = ops::define_op(kOp, OpKind::opaque, 2, 2);
  f.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    check_logits_target(in, 0, 1, kOp);
    DS_CHECK(a.has("ignore_index"), "[", kOp, "] needs attr ignore_index");
    const Tensor& x = in[0];
    TensorMeta rows{{x.sizes()[0]}, acc_dtype(x.dtype()), x.device()};
    return std::vector<TensorMeta>{rows, rows};
  };
  f.nondiff_inputs = {1};
  f.save_all_inputs = false;
  f.save_inputs = {0, 1};
  f.save_outputs = {1};         // lse
  f.materialize_grads = false;  // lse's gradient is never used
  f.backward = [](const BackwardContext& c) {
    const int64_t ignore = c.attrs.get<int64_t>("ignore_index");
    if (!c.grads[0].defined()) return Grads{Tensor(), Tensor()};
    if (autograd::GradMode::enabled())  // create_graph: a differentiable gradient
      return Grads{composite_backward(c.grads[0], c.inputs[0], c.inputs[1], ignore), Tensor()};
    static const auto op = ops::op_id(kBackward);
    return Grads{ops::dispatch1(op, {c.grads[0], c.inputs[0], c.inputs[1], c.outputs[1]},
                                Attrs().set("ignore_index", ops::AttrValue(ignore))),
                 Tensor()};
  };
  f.flops = [](const std::vector<TensorMeta>& in, const std::vector<TensorMeta>&, const Attrs&) {
    return 3.0 * static_cast<double>(in[0].sizes[0] * in[0].sizes[1]);
  };

  // g (N) acc dtype, logits (N, C), target (N), lse (N) acc dtype -> d logits (N, C).
  auto& b = ops::define_op(kBackward, OpKind::opaque, 4, 1);
  b.differentiable = false;
  b.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    check_logits_target(in, 1, 2, kBackward);
    DS_CHECK(a.has("ignore_index"), "[", kBackward, "] needs attr ignore_index");
    const Tensor& x = in[1];
    const Shape rows{x.sizes()[0]};
    for (size_t i : {size_t{0}, size_t{3}}) {
      DS_CHECK(in[i].defined() && in[i].dtype() == acc_dtype(x.dtype()) && in[i].sizes() == rows, "[", kBackward,
               "] ", i == 0 ? "grad" : "lse", " must be ", dtype_name(acc_dtype(x.dtype())), " ", to_string(rows));
      if (!in[i].is_contiguous()) in[i] = contiguous(in[i]);
    }
    return std::vector<TensorMeta>{ops::meta_of(x)};
  };
}
DS_REGISTER(define);

}  // namespace

bool has_softmax_cross_entropy(Device device) {
  static const auto op = ops::op_id(kOp);
  return ops::Registry::get().at(op).has_kernel(device.type);
}

Tensor softmax_cross_entropy_rows(const Tensor& logits, const Tensor& target, int64_t ignore_index) {
  static const auto op = ops::op_id(kOp);
  return ops::dispatch(op, {logits, target}, Attrs().set("ignore_index", ops::AttrValue(ignore_index)))[0];
}

}  // namespace deepseek
