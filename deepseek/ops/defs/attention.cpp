// scaled_dot_product_attention: softmax(q k^T * scale + mask) v, with masks as PyTorch (a
// bool mask is true where attention is allowed, a float mask is added, is_causal keeps key
// j <= query i) and Philox dropout on the attention weights.
//
// Memory-efficient, as flash attention but built from public ops: the batch (all leading
// dims, flattened) is processed in chunks, the forward keeps only the output and the
// log-sum-exp of each row, and the backward recomputes each chunk's weights from them. So
// the (L, S) weight matrices never exist for the whole batch at once, in the forward or for
// backward, and the kernels run on any device that has bmm, softmax-style reductions and
// dropout. The backward is written with public ops, so it is itself differentiable.
//
// The op's tensors are (N, L, H, E), FlashAttention's layout: 4-D (N, H, L, E) inputs reach it
// as transposed views, so heads sliced from one packed projection are read in place, and the
// output, returned as an (N, H, L, E) view, is laid out (N, L, H, E): the (N, L, E) input of the
// output projection, with no copies.
//
// On CUDA, f16/bf16 inputs with head size 64 or 128, no mask and no dropout go to the fused
// flash attention kernels instead (ops `flash_attention` and `flash_attention_backward`,
// backend/cuda/flash_attention.cu); double backward (create_graph) takes the composite path.
// f32 scores without a mask (any device) take fused row kernels for the softmax, dropout and
// their gradient (ops `attention_probs*`) between the products; on CUDA in true-f32 mode their
// products over the head size run as 3xTF32 (op `tf32_split`), as PyTorch's f32
// memory-efficient attention does.
#include <algorithm>
#include <cmath>
#include <limits>

#include "deepseek/autograd/grad_mode.h"
#include "deepseek/core/accelerator.h"
#include "deepseek/ops/attention.h"
#include "deepseek/ops/defs/common.h"
#include "deepseek/ops/raw_ops.h"

namespace deepseek {
namespace {

using ops::Attrs;
using ops::BackwardContext;
using ops::OpKind;
using ops::TensorMeta;
using Grads = std::vector<Tensor>;

const char* kOp = "scaled_dot_product_attention";
int64_t g_chunk_elements = int64_t{1} << 27;  // attention weights per chunk (BERT-base 32x512: one chunk)

void check_input(const Tensor& t, const char* what) {
  DS_CHECK(t.defined(), "[", kOp, "] ", what, " is an undefined tensor");
  DS_CHECK(is_floating(t.dtype()), "[", kOp, "] ", what, " must be a floating-point tensor, got ",
           dtype_name(t.dtype()));
  DS_CHECK(t.dim() == 4, "[", kOp, "] ", what, " must be 4-D (N, L, H, E) here, got shape ",
           to_string(t.sizes()));
}

// Scores are computed in f32 (f64 for f64 inputs).
DType acc_dtype(DType t) { return t == DType::f64 ? DType::f64 : DType::f32; }

struct Geometry {
  int64_t N, H, B, L, S, chunk;  // B = N H
  double scale, dropout_p;
  bool causal;
  int mask_kind;  // 0 none, 1 bool, 2 float
};

Geometry geometry(const std::vector<Tensor>& in, const Attrs& a) {
  Geometry g;
  g.N = in[0].sizes()[0];
  g.H = in[0].sizes()[2];
  g.B = g.N * g.H;
  g.L = in[0].sizes()[1];
  g.S = in[1].sizes()[1];
  g.scale = a.get<double>("scale");
  g.dropout_p = a.get<double>("dropout_p", 0.0);
  g.causal = a.get<int64_t>("is_causal", 0) != 0;
  g.mask_kind = in.size() > 3 ? (in[3].dtype() == DType::b8 ? 1 : 2) : 0;
  int64_t per = std::max<int64_t>(g.L * g.S, 1);
  g.chunk = std::max<int64_t>(1, g_chunk_elements / per);
  // Dropout counters: element i of the whole (B, L, S) block uses counter offset + i/4, so a
  // chunk must start at a multiple of 4 elements.
  if (g.dropout_p > 0 && per % 4 != 0) g.chunk = g.B;
  return g;
}

// The op works on (N, L, H, E) tensors (the layout of a packed projection, read in place by
// the fused kernels); the op-by-op path works on (B = N H, L, E) batches: a view when H is 1,
// else a copy.
Tensor batched(const Tensor& t) {
  return reshape(transpose(t, 1, 2), {t.sizes()[0] * t.sizes()[2], t.sizes()[1], t.sizes()[3]});
}
// (B, L, E) -> the (N, L, H, E) view of it.
Tensor unbatched(const Tensor& t, const Geometry& g) {
  return transpose(reshape(t, {g.N, g.H, t.sizes()[1], t.sizes()[2]}), 1, 2);
}
// q, k, v as batches; the mask (already (B | 1, L | 1, S | 1)) as it is.
std::vector<Tensor> batched_inputs(const std::vector<Tensor>& in) {
  std::vector<Tensor> r{batched(in[0]), batched(in[1]), batched(in[2])};
  if (in.size() > 3) r.push_back(in[3]);
  return r;
}

// Masked, scaled scores of batch rows [b0, b0 + n) in the accumulation dtype.
Tensor scores(const std::vector<Tensor>& in, const Geometry& g, int64_t b0, int64_t n) {
  const Tensor &q = in[0], &k = in[1];
  DType acc = acc_dtype(q.dtype());
  Tensor s = mul(cast(bmm(narrow(q, 0, b0, n), transpose(narrow(k, 0, b0, n), 1, 2)), acc), g.scale);
  const double inf = std::numeric_limits<double>::infinity();
  if (g.causal) {
    Tensor rows = view(arange(g.L, {DType::i64, q.device()}), {g.L, 1});
    Tensor cols = view(arange(g.S, {DType::i64, q.device()}), {1, g.S});
    s = where(ge(rows, cols), s, -inf);
  } else if (g.mask_kind) {
    const Tensor& m = in[3];
    Tensor mc = m.sizes()[0] == 1 ? m : narrow(m, 0, b0, n);
    s = g.mask_kind == 1 ? where(mc, s, -inf) : add(s, cast(mc, acc));
  }
  return s;
}

Attrs dropout_attrs(const Attrs& a, const Geometry& g, int64_t b0) {
  Attrs d;
  d.set("p", g.dropout_p).set("seed", a.get<int64_t>("seed"));
  d.set("offset", a.get<int64_t>("offset") + b0 * g.L * g.S / 4);
  return d;
}

Tensor dropout_like(const Tensor& x, const Attrs& a) {
  static const auto op = ops::op_id("dropout");
  return ops::dispatch1(op, {x}, a);
}

const char* kFlash = "flash_attention";
const char* kProbs = "attention_probs";
const char* kTf32Split = "tf32_split";
const char* kProbsBackward = "attention_probs_backward";

// The fused row kernels (attention_probs*) take f32 scores with no mask, where they have a
// kernel; f64 and masks keep the op-by-op path.
bool use_probs(const Tensor& q, const Geometry& g) {
  static const auto op = ops::op_id(kProbs);
  return acc_dtype(q.dtype()) == DType::f32 && g.mask_kind == 0 &&
         ops::Registry::get().at(op).has_kernel(q.device().type);
}

Attrs probs_attrs(const Attrs& a, const Geometry& g, int64_t b0) {
  Attrs r = g.dropout_p > 0 ? dropout_attrs(a, g, b0) : Attrs().set("p", 0.0).set("seed", int64_t{0}).set("offset", int64_t{0});
  return r.set("scale", g.scale).set("is_causal", static_cast<int64_t>(g.causal));
}

// a b^T for (n, L, E) x (n, S, E) f32 operands on CUDA in true-f32 mode, as 3xTF32 (see
// tf32_split): f32-level accuracy on tensor cores, as PyTorch's memory-efficient attention
// computes f32 scores. Used for the products over the head size (q k^T, dout v^T), where
// splitting the small operands is cheap; the products over the keys keep true f32.
bool use_tf32x3(const Tensor& t) {
  static const auto op = ops::op_id(kTf32Split);
  return t.device().is_cuda() && t.dtype() == DType::f32 && float32_matmul_precision() == "highest" &&
         ops::Registry::get().at(op).has_kernel(DeviceType::cuda);
}

Tensor tf32_split(const Tensor& x, std::vector<int64_t> pattern) {
  static const auto op = ops::op_id(kTf32Split);
  return ops::dispatch1(op, {x}, Attrs().set("pattern", std::move(pattern)));
}

Tensor product_bt(const Tensor& a, const Tensor& b) {  // a b^T, in f32 (f64 for f64)
  if (!use_tf32x3(a)) return cast(bmm(a, transpose(b, 1, 2)), acc_dtype(a.dtype()));
  Tensor a3 = tf32_split(a, {0, 0, 1}), b3 = tf32_split(b, {0, 1, 0});
  Float32MatmulPrecisionScope tf32("high");
  return bmm(a3, transpose(b3, 1, 2));
}

// q k^T of batch rows [b0, b0 + n), unscaled, in the accumulation dtype.
Tensor raw_scores(const Tensor& q, const Tensor& k, int64_t b0, int64_t n) {
  return product_bt(narrow(q, 0, b0, n), narrow(k, 0, b0, n));
}
const char* kFlashBackward = "flash_attention_backward";

// The cases the fused kernels take: CUDA, f16/bf16, one head size of 64 or 128 for q, k and
// v, no mask, no dropout.
bool use_flash(const std::vector<Tensor>& in, const Geometry& g) {
  static const auto op = ops::op_id(kFlash);
  const Tensor& q = in[0];
  int64_t d = q.sizes()[3];
  return q.device().is_cuda() && (q.dtype() == DType::bf16 || q.dtype() == DType::f16) && (d == 64 || d == 128) &&
         in[2].sizes()[3] == d && g.mask_kind == 0 && g.dropout_p == 0 &&
         ops::Registry::get().at(op).has_kernel(DeviceType::cuda);
}

Attrs flash_attrs(const Geometry& g) {
  return Attrs().set("scale", g.scale).set("is_causal", static_cast<int64_t>(g.causal));
}

void forward_kernel(const std::vector<Tensor>& in4, std::vector<Tensor>& out, const Attrs& a) {
  ops::NoInterposers raw;  // the kernel's own op calls are not recorded
  Geometry g = geometry(in4, a);
  if (use_flash(in4, g)) {  // straight into this op's outputs
    static const auto op = ops::op_id(kFlash);
    ops::Registry::get().at(op).kernels[static_cast<int>(DeviceType::cuda)](in4, out, flash_attrs(g));
    return;
  }
  const std::vector<Tensor> in = batched_inputs(in4);
  const Tensor& v = in[2];
  // The output as (B, L, Ev): a view of out[0] when H is 1; else the product itself when one
  // chunk covers the batch, or a buffer the chunks fill; either is copied into out[0] at the end.
  const bool one_chunk = g.B > 0 && g.chunk >= g.B;
  Tensor out3 = g.H == 1 ? reshape(out[0], {g.B, g.L, v.sizes()[2]})
                : one_chunk ? Tensor()
                            : Tensor::empty({g.B, g.L, v.sizes()[2]}, v.dtype(), v.device());
  Tensor lse3 = reshape(out[1], {g.B, g.L});
  const bool fused = use_probs(in[0], g);
  auto put = [&](const Tensor& o, int64_t b0, int64_t n) {
    if (!out3.defined()) {
      out3 = o;
      return;
    }
    Tensor dst = narrow(out3, 0, b0, n);
    copy_(dst, o);
  };
  for (int64_t b0 = 0; b0 < g.B; b0 += g.chunk) {
    int64_t n = std::min(g.chunk, g.B - b0);
    Tensor lse_dst = narrow(lse3, 0, b0, n);
    if (fused) {
      static const auto op = ops::op_id(kProbs);
      auto r = ops::dispatch(op, {raw_scores(in[0], in[1], b0, n)}, probs_attrs(a, g, b0));
      put(bmm(cast(r[0], v.dtype()), narrow(v, 0, b0, n)), b0, n);
      copy_(lse_dst, r[1]);
      continue;
    }
    Tensor s = scores(in, g, b0, n);
    Tensor lse = logsumexp(s, {-1}, true);
    Tensor p = exp(sub(s, lse));
    if (g.dropout_p > 0) p = dropout_like(p, dropout_attrs(a, g, b0));
    put(bmm(cast(p, v.dtype()), narrow(v, 0, b0, n)), b0, n);
    copy_(lse_dst, squeeze(lse, -1));
  }
  if (g.H != 1) {
    Tensor o4 = out[0];
    copy_(o4, unbatched(out3, g));
  }
}

Grads backward(const BackwardContext& c) {
  Geometry g = geometry(c.inputs, c.attrs);
  if (use_flash(c.inputs, g) && !autograd::GradMode::enabled()) {
    static const auto op = ops::op_id(kFlashBackward);
    auto r = ops::dispatch(op, {c.grads[0], c.inputs[0], c.inputs[1], c.inputs[2], c.outputs[0], c.outputs[1]},
                           flash_attrs(g));
    return Grads{c.needs_grad[0] ? r[0] : Tensor(), c.needs_grad[1] ? r[1] : Tensor(),
                 c.needs_grad[2] ? r[2] : Tensor()};
  }
  if (g.B == 0) {  // an empty batch: empty gradients (there is no chunk to run)
    Grads r(c.inputs.size());
    for (size_t i = 0; i < c.inputs.size(); ++i)
      if (c.needs_grad[i]) r[i] = zeros_like(c.inputs[i]);
    return r;
  }
  const std::vector<Tensor> in = batched_inputs(c.inputs);
  const Tensor &q = in[0], &k = in[1], &v = in[2];
  const Tensor dout = batched(c.grads[0]);
  const Tensor lse_all = reshape(c.outputs[1], {g.B, g.L});
  DType acc = acc_dtype(q.dtype());
  bool want_mask = in.size() > 3 && g.mask_kind == 2 && c.needs_grad[3];
  std::vector<Tensor> dq, dk, dv, dm;
  // The fused row kernel is not differentiable: double backward takes the op-by-op path.
  const bool fused = use_probs(q, g) && !autograd::GradMode::enabled();
  // D_i = sum_j dP_ij P_ij = rowsum(dout * out), whatever the dropout (the fused kernel sums
  // it from its rows); summed in the op's (N, L, H, E) layout, so only the (N, L, H) result
  // is rearranged to (B, L).
  Tensor D;
  if (!fused) {
    Tensor D4 = sum(mul(cast(c.grads[0], acc), cast(c.outputs[0], acc)), {-1});
    D = unsqueeze(reshape(transpose(D4, 1, 2), {g.B, g.L}), -1);
  }
  for (int64_t b0 = 0; b0 < g.B; b0 += g.chunk) {
    int64_t n = std::min(g.chunk, g.B - b0);
    Tensor doc = narrow(dout, 0, b0, n);
    if (fused) {
      static const auto op = ops::op_id(kProbsBackward);
      Tensor dp = product_bt(doc, narrow(v, 0, b0, n));
      auto r = ops::dispatch(op, {raw_scores(q, k, b0, n), dp, narrow(lse_all, 0, b0, n)}, probs_attrs(c.attrs, g, b0));
      dv.push_back(bmm(transpose(cast(r[0], v.dtype()), 1, 2), doc));
      Tensor dsq = cast(r[1], q.dtype());
      dq.push_back(bmm(dsq, narrow(k, 0, b0, n)));
      dk.push_back(bmm(transpose(dsq, 1, 2), narrow(q, 0, b0, n)));
      continue;
    }
    Tensor s = scores(in, g, b0, n);
    Tensor p = exp(sub(s, unsqueeze(narrow(lse_all, 0, b0, n), -1)));
    Tensor pd = p;
    Attrs da;
    if (g.dropout_p > 0) {
      da = dropout_attrs(c.attrs, g, b0);
      pd = dropout_like(p, da);
    }
    dv.push_back(bmm(transpose(cast(pd, v.dtype()), 1, 2), doc));
    Tensor dp = cast(bmm(doc, transpose(narrow(v, 0, b0, n), 1, 2)), acc);
    if (g.dropout_p > 0) dp = dropout_like(dp, da);
    Tensor ds = mul(p, sub(dp, narrow(D, 0, b0, n)));
    Tensor dsq = cast(mul(ds, g.scale), q.dtype());
    dq.push_back(bmm(dsq, narrow(k, 0, b0, n)));
    dk.push_back(bmm(transpose(dsq, 1, 2), narrow(q, 0, b0, n)));
    if (want_mask) dm.push_back(ds);
  }
  auto joined = [](const std::vector<Tensor>& parts) { return parts.size() == 1 ? parts[0] : cat(parts, 0); };
  Grads r(in.size());
  if (c.needs_grad[0]) r[0] = unbatched(joined(dq), g);
  if (c.needs_grad[1]) r[1] = unbatched(joined(dk), g);
  if (c.needs_grad[2]) r[2] = unbatched(joined(dv), g);
  if (want_mask) r[3] = ops::reduce_grad_to(joined(dm), c.input_meta[3]);
  return r;
}

void define() {
  auto& d = ops::define_op(kOp, OpKind::opaque, -1, 2);
  d.random = true;
  d.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    DS_CHECK(in.size() == 3 || in.size() == 4, "[", kOp, "] expects (q, k, v[, mask]), got ", in.size(), " tensors");
    check_input(in[0], "query");
    check_input(in[1], "key");
    check_input(in[2], "value");
    const Tensor &q = in[0], &k = in[1], &v = in[2];
    DS_CHECK(q.dtype() == k.dtype() && q.dtype() == v.dtype(), "[", kOp,
             "] query, key and value must have one dtype, got ", dtype_name(q.dtype()), ", ",
             dtype_name(k.dtype()), " and ", dtype_name(v.dtype()));
    for (const Tensor* t : {&k, &v})
      DS_CHECK(t->sizes()[0] == q.sizes()[0] && t->sizes()[2] == q.sizes()[2], "[", kOp, "] batch or head counts differ");
    DS_CHECK(k.sizes()[3] == q.sizes()[3], "[", kOp, "] query and key must have the same embedding size");
    DS_CHECK(v.sizes()[1] == k.sizes()[1], "[", kOp, "] key and value must have the same sequence length");
    if (in.size() == 4) {
      const Tensor& m = in[3];
      DS_CHECK(m.dim() == 3 && (m.sizes()[0] == 1 || m.sizes()[0] == q.sizes()[0] * q.sizes()[2]) &&
                   (m.sizes()[1] == 1 || m.sizes()[1] == q.sizes()[1]) &&
                   (m.sizes()[2] == 1 || m.sizes()[2] == k.sizes()[1]),
               "[", kOp, "] mask of shape ", to_string(m.sizes()), " does not broadcast to the scores");
    }
    (void)a;
    return std::vector<TensorMeta>{{{q.sizes()[0], q.sizes()[1], q.sizes()[2], v.sizes()[3]}, q.dtype(), q.device()},
                                   {{q.sizes()[0], q.sizes()[2], q.sizes()[1]}, acc_dtype(q.dtype()), q.device()}};
  };
  d.save_outputs = {0, 1};  // the output and the log-sum-exp of each row
  d.materialize_grads = false;  // the log-sum-exp's gradient is never used
  d.backward = backward;
  d.flops = [](const std::vector<TensorMeta>& in, const std::vector<TensorMeta>&, const Attrs&) {
    double B = static_cast<double>(in[0].sizes[0] * in[0].sizes[2]), L = static_cast<double>(in[0].sizes[1]);
    double S = static_cast<double>(in[1].sizes[1]);
    return 2.0 * B * L * S * static_cast<double>(in[0].sizes[3] + in[2].sizes[3]);
  };
  // The same composite kernel on every device with the ops it uses.
  for (DeviceType dev : {DeviceType::cpu, DeviceType::cuda}) ops::Registry::get().register_kernel(kOp, dev, forward_kernel);
}
DS_REGISTER(define);

// The fused kernels' ops (kernels on CUDA only; scaled_dot_product_attention calls them).
// flash_attention: q (N, L, H, D), k, v (N, S, H, D), any strides with dense rows -> out
// (N, L, H, D), log-sum-exp (N, H, L) f32.
// flash_attention_backward: dout, q, k, v, out, lse -> dq, dk, dv. attrs: scale, is_causal.
void check_flash(const Tensor& t, const Tensor& q, const char* op, const char* what) {
  DS_CHECK(t.dim() == 4 && t.sizes()[0] == q.sizes()[0] && t.sizes()[2] == q.sizes()[2] &&
               t.sizes()[3] == q.sizes()[3],
           "[", op, "] ", what, " must be (", q.sizes()[0], ", *, ", q.sizes()[2], ", ", q.sizes()[3],
           ") as the query, got shape ", to_string(t.sizes()));
  DS_CHECK(t.dtype() == q.dtype(), "[", op, "] ", what, " must be ", dtype_name(q.dtype()), ", got ", dtype_name(t.dtype()));
}

void check_flash_query(const Tensor& q, const char* op) {
  DS_CHECK(q.dim() == 4 && (q.dtype() == DType::bf16 || q.dtype() == DType::f16) &&
               (q.sizes()[3] == 64 || q.sizes()[3] == 128),
           "[", op, "] expects an f16/bf16 query (N, L, H, D) with D 64 or 128, got ", dtype_name(q.dtype()), " ",
           to_string(q.sizes()));
}

void define_flash() {
  auto& f = ops::define_op(kFlash, OpKind::opaque, 3, 2);
  f.differentiable = false;
  f.infer = [](std::vector<Tensor>& in, const Attrs&) {
    const Tensor& q = in[0];
    check_flash_query(q, kFlash);
    check_flash(in[1], q, kFlash, "key");
    check_flash(in[2], q, kFlash, "value");
    DS_CHECK(in[1].sizes()[1] == in[2].sizes()[1], "[", kFlash, "] key and value lengths differ");
    return std::vector<TensorMeta>{ops::meta_of(q), {{q.sizes()[0], q.sizes()[2], q.sizes()[1]}, DType::f32, q.device()}};
  };
  auto& b = ops::define_op(kFlashBackward, OpKind::opaque, 6, 3);
  b.differentiable = false;
  b.deterministic = false;  // dq is summed with atomics
  b.infer = [](std::vector<Tensor>& in, const Attrs&) {
    const Tensor& q = in[1];
    check_flash_query(q, kFlashBackward);
    for (int i : {0, 4}) check_flash(in[i], q, kFlashBackward, i == 0 ? "grad" : "output");
    check_flash(in[2], q, kFlashBackward, "key");
    check_flash(in[3], q, kFlashBackward, "value");
    DS_CHECK((in[5].dtype() == DType::f32 && in[5].sizes() == Shape{q.sizes()[0], q.sizes()[2], q.sizes()[1]}), "[",
             kFlashBackward, "] lse must be f32 (N, H, L)");
    if (!in[5].is_contiguous()) in[5] = contiguous(in[5]);
    return std::vector<TensorMeta>{ops::meta_of(q), ops::meta_of(in[2]),
                                   ops::meta_of(in[3])};
  };
}
DS_REGISTER(define_flash);

// The fused row kernels of the composite (CPU and CUDA kernels; the composite calls them
// for f32 scores without a mask, outside double backward).
// attention_probs: s (B, L, S) f32 raw scores q k^T -> probs = dropout(softmax(s * scale,
//   causal)) (B, L, S), lse (B, L) of the scaled scores.
// attention_probs_backward: s, dp = dout v^T (B, L, S), lse (B, L) -> pd = the dropped
//   probabilities (for dv), ds = P (dropout(dp) - D) * scale (for dq and dk), where
//   D_i = sum_j pd_ij dp_ij (= dout_i . out_i, computed from the row at hand).
// attrs: scale, is_causal, p, seed, offset; element i of the (B, L, S) block draws Philox
// counter offset + i / 4, lane i % 4, as the dropout op.
void check_probs_input(const Tensor& t, const Shape& want, const char* op, const char* what) {
  DS_CHECK(t.dtype() == DType::f32 && t.sizes() == want, "[", op, "] ", what, " must be f32 ", to_string(want),
           ", got ", dtype_name(t.dtype()), " ", to_string(t.sizes()));
}

void define_probs() {
  auto& f = ops::define_op(kProbs, OpKind::opaque, 1, 2);
  f.differentiable = false;
  f.random = true;
  f.infer = [](std::vector<Tensor>& in, const Attrs&) {
    const Tensor& s = in[0];
    DS_CHECK(s.dim() == 3, "[", kProbs, "] scores must be (B, L, S), got ", to_string(s.sizes()));
    check_probs_input(s, s.sizes(), kProbs, "scores");
    if (!s.is_contiguous()) in[0] = contiguous(s);
    return std::vector<TensorMeta>{ops::meta_of(s), {{s.sizes()[0], s.sizes()[1]}, DType::f32, s.device()}};
  };
  auto& b = ops::define_op(kProbsBackward, OpKind::opaque, 3, 2);
  b.differentiable = false;
  b.random = true;
  b.infer = [](std::vector<Tensor>& in, const Attrs&) {
    const Tensor& s = in[0];
    DS_CHECK(s.dim() == 3, "[", kProbsBackward, "] scores must be (B, L, S), got ", to_string(s.sizes()));
    check_probs_input(s, s.sizes(), kProbsBackward, "scores");
    check_probs_input(in[1], s.sizes(), kProbsBackward, "dp");
    check_probs_input(in[2], {s.sizes()[0], s.sizes()[1]}, kProbsBackward, "lse");
    for (auto& t : in)
      if (!t.is_contiguous()) t = contiguous(t);
    return std::vector<TensorMeta>{ops::meta_of(s), ops::meta_of(s)};
  };
}
DS_REGISTER(define_probs);

// tf32_split: x (..., E) f32 -> (..., 3E): three segments, each x's TF32-rounded part hi or its
// remainder lo (x = hi + lo exactly), as attr pattern (three entries, 0 = hi, 1 = lo) says.
// Two such operands, patterns (0, 0, 1) and (0, 1, 0), make a TF32 product over 3E equal
// hi.hi + hi.lo + lo.hi: f32-accurate scores at tensor-core speed (3xTF32).
void define_tf32_split() {
  auto& d = ops::define_op(kTf32Split, OpKind::opaque, 1, 1);
  d.differentiable = false;
  d.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    const Tensor& x = in[0];
    DS_CHECK(x.dtype() == DType::f32 && x.dim() >= 1, "[", kTf32Split, "] expects an f32 tensor of at least 1 dim, got ",
             dtype_name(x.dtype()), " ", to_string(x.sizes()));
    DS_CHECK(a.has("pattern"), "[", kTf32Split, "] needs attr pattern");
    auto pat = a.get<std::vector<int64_t>>("pattern");
    DS_CHECK(pat.size() == 3 && std::all_of(pat.begin(), pat.end(), [](int64_t v) { return v == 0 || v == 1; }), "[",
             kTf32Split, "] pattern must be three entries of 0 (hi) or 1 (lo), got ", to_string(pat));
    if (!x.is_contiguous()) in[0] = contiguous(x);
    Shape s = x.sizes();
    s.back() *= 3;
    return std::vector<TensorMeta>{{s, DType::f32, x.device()}};
  };
}
DS_REGISTER(define_tf32_split);

void check_public(const Tensor& t, const char* what) {
  DS_CHECK(t.defined(), "[", kOp, "] ", what, " is an undefined tensor");
  DS_CHECK(is_floating(t.dtype()), "[", kOp, "] ", what, " must be a floating-point tensor, got ",
           dtype_name(t.dtype()));
  DS_CHECK(t.dim() >= 2, "[", kOp, "] ", what, " must be at least 2-D (..., L, E), got shape ",
           to_string(t.sizes()));
}

// (..., L, E) -> (B, L, E) after broadcasting the leading dims to `lead`.
Tensor flatten_batch(const Tensor& t, const Shape& lead) {
  Shape full = lead;
  full.push_back(t.size(-2));
  full.push_back(t.size(-1));
  int64_t B = numel(lead);
  return reshape(expand(t, full), {B, t.size(-2), t.size(-1)});
}

}  // namespace

void set_attention_chunk_elements(int64_t n) {
  DS_CHECK(n > 0, "[", kOp, "] chunk size must be positive, got ", n);
  g_chunk_elements = n;
}
int64_t attention_chunk_elements() { return g_chunk_elements; }

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& attn_mask, double dropout_p, bool is_causal,
                                    std::optional<double> scale) {
  static const auto op = ops::op_id(kOp);
  check_public(q, "query");
  check_public(k, "key");
  check_public(v, "value");
  DS_CHECK(q.dtype() == k.dtype() && q.dtype() == v.dtype(), "[", kOp,
           "] query, key and value must have one dtype, got ", dtype_name(q.dtype()), ", ",
           dtype_name(k.dtype()), " and ", dtype_name(v.dtype()));
  int64_t L = q.size(-2), S = k.size(-2), E = q.size(-1);
  DS_CHECK(k.size(-1) == E, "[", kOp, "] query and key must have the same embedding size, got ", E,
           " and ", k.size(-1));
  DS_CHECK(v.size(-2) == S, "[", kOp, "] key and value must have the same sequence length, got ", S,
           " and ", v.size(-2));
  DS_CHECK(dropout_p >= 0 && dropout_p <= 1, "[", kOp, "] dropout_p must be in [0, 1], got ", dropout_p);
  DS_CHECK(!scale || std::isfinite(*scale), "[", kOp, "] scale must be finite");
  DS_CHECK(!(is_causal && attn_mask.defined()), "[", kOp,
           "] give either attn_mask or is_causal=true, not both");
  Shape lead;
  try {
    Shape lq(q.sizes().begin(), q.sizes().end() - 2), lk(k.sizes().begin(), k.sizes().end() - 2),
        lv(v.sizes().begin(), v.sizes().end() - 2);
    lead = broadcast_shapes(broadcast_shapes(lq, lk, kOp), lv, kOp);
  } catch (const Error&) {
    DS_THROW("[", kOp, "] leading dims of query ", to_string(q.sizes()), ", key ", to_string(k.sizes()),
             " and value ", to_string(v.sizes()), " do not broadcast");
  }
  // The op takes (N, L, H, E): 4-D (N, H, L, E) inputs with the same (N, H) are passed as
  // their transposed views (no copies: q, k and v may be strided views of one projection);
  // anything else is flattened to (B, L, 1, E).
  const bool heads = q.dim() == 4 && k.dim() == 4 && v.dim() == 4 && Shape{q.size(0), q.size(1)} == lead &&
                     Shape{k.size(0), k.size(1)} == lead && Shape{v.size(0), v.size(1)} == lead;
  std::vector<Tensor> in;
  if (heads) in = {transpose(q, 1, 2), transpose(k, 1, 2), transpose(v, 1, 2)};
  else in = {unsqueeze(flatten_batch(q, lead), 2), unsqueeze(flatten_batch(k, lead), 2), unsqueeze(flatten_batch(v, lead), 2)};
  if (attn_mask.defined()) {
    DS_CHECK(attn_mask.dtype() == DType::b8 || is_floating(attn_mask.dtype()), "[", kOp,
             "] attn_mask must be bool (true = attend) or floating (added), got ",
             dtype_name(attn_mask.dtype()));
    bool ok = attn_mask.dim() >= 1 && attn_mask.dim() <= static_cast<int64_t>(lead.size()) + 2;
    for (int64_t i = 1; ok && i <= std::min<int64_t>(attn_mask.dim(), 2); ++i) {
      int64_t m = attn_mask.size(-i), want = i == 1 ? S : L;
      ok = m == 1 || m == want;
    }
    Shape ml(attn_mask.sizes().begin(), attn_mask.sizes().end() - std::min<int64_t>(attn_mask.dim(), 2));
    if (ok) {
      try {
        ok = broadcast_shapes(ml, lead, kOp) == lead;
      } catch (const Error&) {
        ok = false;
      }
    }
    DS_CHECK(ok, "[", kOp, "] attn_mask of shape ", to_string(attn_mask.sizes()),
             " does not broadcast to (..., ", L, ", ", S, ")");
    Tensor m = attn_mask;
    while (m.dim() < 2) m = unsqueeze(m, 0);
    int64_t Lm = m.size(-2), Sm = m.size(-1);
    bool batched = numel(ml) > 1;
    if (batched) m = reshape(expand(m, [&] { Shape s = lead; s.push_back(Lm); s.push_back(Sm); return s; }()),
                             {numel(lead), Lm, Sm});
    else m = reshape(m, {1, Lm, Sm});
    in.push_back(m);
  }
  double s = scale ? *scale : 1.0 / std::sqrt(static_cast<double>(E));
  Attrs a;
  a.set("scale", s).set("dropout_p", dropout_p).set("is_causal", static_cast<int64_t>(is_causal));
  auto st = default_generator(q.device()).reserve(dropout_p > 0 ? static_cast<uint64_t>(numel(lead) * L * S) : 0);
  a.set("seed", static_cast<int64_t>(st.seed)).set("offset", static_cast<int64_t>(st.offset));
  Tensor out = ops::dispatch(op, std::move(in), a)[0];
  if (heads) return transpose(out, 1, 2);  // (N, H, L, Ev), laid out (N, L, H, Ev)
  Shape os = lead;
  os.push_back(L);
  os.push_back(v.size(-1));
  return reshape(out, os);
}

}  // namespace deepseek
