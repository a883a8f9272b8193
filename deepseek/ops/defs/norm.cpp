// Normalization: batch_norm, layer_norm, group_norm, rms_norm. Each forward is a primitive with
// a fused CPU kernel (backend/cpu/vec/norm.cpp) that also returns the statistics backward
// needs (mean and 1/std, in f32 for f16/bf16 inputs). Backward rules are written with public
// ops from those saved statistics, so double backward and tracing of backward come for free.
//
// Inputs have a fixed arity so channel rules hold by position: absent weight/bias become
// ones/zeros of the right size (a few bytes; the kernels read them like real parameters).
// batch_norm's running statistics are updated by the public function through the public
// in-place ops mul_/add_ (visible to the tracer, which rewrites them to pure ops), with
// autograd off for that update.
#include <cmath>
#include <limits>

#include "deepseek/autograd/grad_mode.h"
#include "deepseek/ops/defs/common.h"

namespace deepseek {
namespace {
using ops::Attrs;
using ops::BackwardContext;
using ops::OpKind;
using ops::TensorMeta;
using Grads = std::vector<Tensor>;
using AV = ops::AttrValue;

DType stat_dtype(DType d) { return (d == DType::f16 || d == DType::bf16) ? DType::f32 : d; }

void check_floating(const Tensor& t, const char* op, const char* what) {
  DS_CHECK(is_floating(t.dtype()), "[", op, "] ", what, " must be a floating-point tensor, got ",
           dtype_name(t.dtype()));
}

void check_eps(double eps, const char* op) {
  DS_CHECK(eps >= 0 && std::isfinite(eps), "[", op, "] eps must be a finite number >= 0, got ", eps);
}

// Casts a parameter to x's dtype after checking its shape.
void check_param(std::vector<Tensor>& in, size_t i, const Shape& want, const char* op,
                 const char* what) {
  Tensor& p = in[i];
  check_floating(p, op, what);
  DS_CHECK(p.sizes() == want, "[", op, "] ", what, " must have shape ", to_string(want), ", got ",
           to_string(p.sizes()));
  if (p.dtype() != in[0].dtype()) p = cast(p, in[0].dtype());
  if (!p.is_contiguous()) p = contiguous(p);
}

// Dims of `x` other than 1 (batch_norm and group_norm parameter gradients sum over them).
std::vector<int64_t> all_but_channel(int64_t ndim) {
  std::vector<int64_t> d;
  for (int64_t i = 0; i < ndim; ++i)
    if (i != 1) d.push_back(i);
  return d;
}
// Shape [1, C, 1, ...] with x's rank, to broadcast per-channel vectors.
Shape channel_shape(int64_t ndim, int64_t c) {
  Shape s(ndim, 1);
  s[1] = c;
  return s;
}

// dx of a normalization given xhat = (x - mean) * rstd and gw = grad * weight, reduced over
// `dims` (keepdim): rstd * (gw - mean(gw) - xhat * mean(gw * xhat)).
Tensor norm_dx(const Tensor& gw, const Tensor& xhat, const Tensor& rstd,
               const std::vector<int64_t>& dims, bool center) {
  Tensor proj = mul(xhat, mean(mul(gw, xhat), dims, true));
  Tensor r = center ? sub(sub(gw, mean(gw, dims, true)), proj) : sub(gw, proj);
  return mul(r, rstd);
}


// The full dx of a centered normalization over `dims` (keepdim), n values per statistic,
// including gradients that reach the mean / rstd / unbiased-var outputs (g_mean, g_rstd,
// g_var: statistic-shaped; undefined = none). Written as rstd * gw + A + xhat * B with
// statistic-sized A and B, so the extra terms cost no full-size pass; being the complete vjp
// of the op, it keeps double backward through the saved statistics exact.
Tensor norm_dx_full(const Tensor& gw, const Tensor& xhat, const Tensor& rstd,
                    const std::vector<int64_t>& dims, double n, const Tensor& g_mean,
                    const Tensor& g_rstd, const Tensor& g_var) {
  Tensor a = neg(mul(rstd, mean(gw, dims, true)));
  if (g_mean.defined()) a = add(a, div(g_mean, n));
  Tensor b = neg(mul(rstd, mean(mul(gw, xhat), dims, true)));
  if (g_rstd.defined()) b = sub(b, div(mul(g_rstd, square(rstd)), n));
  if (g_var.defined() && n > 1) b = add(b, div(mul(g_var, 2.0 / (n - 1)), rstd));
  return add(add(mul(rstd, gw), a), mul(xhat, b));
}

double norm_flops(const std::vector<TensorMeta>& in) { return 8.0 * numel(in[0].sizes); }

void define_layer_norm() {
  // inputs: x, weight, bias; outputs: y, mean, rstd (stats keep x's rank with 1s in the
  // normalized dims). attrs: normalized_ndim, eps.
  auto& d = ops::define_op("layer_norm", OpKind::opaque, 3, 3);
  d.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    int64_t k = a.get<int64_t>("normalized_ndim");
    check_floating(in[0], "layer_norm", "input");
    check_eps(a.get<double>("eps"), "layer_norm");
    DS_CHECK(k >= 1 && k <= in[0].dim(), "[layer_norm] normalized_shape has ", k,
             " dims but the input has shape ", to_string(in[0].sizes()));
    Shape norm(in[0].sizes().end() - k, in[0].sizes().end());
    check_param(in, 1, norm, "layer_norm", "weight");
    check_param(in, 2, norm, "layer_norm", "bias");
    if (!in[0].is_contiguous()) in[0] = contiguous(in[0]);
    Shape st = in[0].sizes();
    for (int64_t i = in[0].dim() - k; i < in[0].dim(); ++i) st[i] = 1;
    DType sd = stat_dtype(in[0].dtype());
    return std::vector<TensorMeta>{ops::meta_of(in[0]), {st, sd, in[0].device()}, {st, sd, in[0].device()}};
  };
  d.save_all_inputs = false;
  d.save_inputs = {0, 1};
  d.save_outputs = {1, 2};
  d.materialize_grads = false;
  d.flops = [](auto& in, auto&, auto&) { return norm_flops(in); };
  d.channels.links = {{0, -1, -1}, {1, 0, -1}, {2, 0, -1}};
  d.backward = [](const BackwardContext& c) {
    static const auto bw = ops::op_id("layer_norm_backward");
    auto r = ops::dispatch(bw, {c.grads[0], c.inputs[0], c.outputs[1], c.outputs[2], c.inputs[1]},
                           Attrs().set("normalized_ndim", c.attrs.get<int64_t>("normalized_ndim")));
    return Grads{c.needs_grad[0] ? r[0] : Tensor(), c.needs_grad[1] ? r[1] : Tensor(),
                 c.needs_grad[2] ? r[2] : Tensor()};
  };
}

void define_rms_norm() {
  // inputs: x, weight; outputs: y, rstd. attrs: normalized_ndim, eps.
  auto& d = ops::define_op("rms_norm", OpKind::opaque, 2, 2);
  d.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    int64_t k = a.get<int64_t>("normalized_ndim");
    check_floating(in[0], "rms_norm", "input");
    check_eps(a.get<double>("eps"), "rms_norm");
    DS_CHECK(k >= 1 && k <= in[0].dim(), "[rms_norm] normalized_shape has ", k,
             " dims but the input has shape ", to_string(in[0].sizes()));
    Shape norm(in[0].sizes().end() - k, in[0].sizes().end());
    check_param(in, 1, norm, "rms_norm", "weight");
    if (!in[0].is_contiguous()) in[0] = contiguous(in[0]);
    Shape st = in[0].sizes();
    for (int64_t i = in[0].dim() - k; i < in[0].dim(); ++i) st[i] = 1;
    return std::vector<TensorMeta>{ops::meta_of(in[0]), {st, stat_dtype(in[0].dtype()), in[0].device()}};
  };
  d.save_all_inputs = true;
  d.save_outputs = {1};
  d.materialize_grads = false;
  d.flops = [](auto& in, auto&, auto&) { return 4.0 * numel(in[0].sizes); };
  d.channels.links = {{0, -1, -1}, {1, 0, -1}};
  d.backward = [](const BackwardContext& c) {
    static const auto bw = ops::op_id("rms_norm_backward");
    auto r = ops::dispatch(bw, {c.grads[0], c.inputs[0], c.outputs[1], c.inputs[1]},
                           Attrs().set("normalized_ndim", c.attrs.get<int64_t>("normalized_ndim")));
    return Grads{c.needs_grad[0] ? r[0] : Tensor(), c.needs_grad[1] ? r[1] : Tensor()};
  };
}

void define_group_norm() {
  // inputs: x (N, C, *), weight (C), bias (C); outputs: y, mean (N, G), rstd (N, G).
  auto& d = ops::define_op("group_norm", OpKind::opaque, 3, 3);
  d.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    int64_t groups = a.get<int64_t>("groups");
    check_floating(in[0], "group_norm", "input");
    check_eps(a.get<double>("eps"), "group_norm");
    DS_CHECK(in[0].dim() >= 2, "[group_norm] input must be at least 2-D (N, C, *), got shape ",
             to_string(in[0].sizes()));
    int64_t c = in[0].sizes()[1];
    DS_CHECK(groups >= 1 && c % groups == 0, "[group_norm] number of channels (", c,
             ") must be divisible by groups (", groups, ")");
    check_param(in, 1, {c}, "group_norm", "weight");
    check_param(in, 2, {c}, "group_norm", "bias");
    if (!in[0].is_contiguous()) in[0] = contiguous(in[0]);
    Shape st{in[0].sizes()[0], groups};
    DType sd = stat_dtype(in[0].dtype());
    return std::vector<TensorMeta>{ops::meta_of(in[0]), {st, sd, in[0].device()}, {st, sd, in[0].device()}};
  };
  d.save_all_inputs = false;
  d.save_inputs = {0, 1};
  d.save_outputs = {1, 2};
  d.materialize_grads = false;
  d.flops = [](auto& in, auto&, auto&) { return norm_flops(in); };
  d.channels.links = {{0, 1, 1}, {1, 0, 1}, {2, 0, 1}};
  d.backward = [](const BackwardContext& c) {
    const Tensor &x = c.inputs[0], &w = c.inputs[1], &g = c.grads[0];
    int64_t n = x.sizes()[0], ch = x.sizes()[1], groups = c.attrs.get<int64_t>("groups");
    Tensor mean_ = unsqueeze(c.outputs[1], -1), rstd = unsqueeze(c.outputs[2], -1);
    Tensor xhat_r = mul(sub(reshape(x, {n, groups, -1}), mean_), rstd);
    Grads r(3);
    if (c.needs_grad[0]) {
      Tensor gw = reshape(mul(g, reshape(w, channel_shape(x.dim(), ch))), {n, groups, -1});
      double per = static_cast<double>(xhat_r.sizes()[2]);
      Tensor gm = c.grads[1].defined() ? unsqueeze(c.grads[1], -1) : Tensor();
      Tensor gr = c.grads[2].defined() ? unsqueeze(c.grads[2], -1) : Tensor();
      r[0] = reshape(norm_dx_full(gw, xhat_r, rstd, {2}, per, gm, gr, Tensor()), x.sizes());
    }
    auto dims = all_but_channel(x.dim());
    if (c.needs_grad[1]) r[1] = sum(mul(g, reshape(xhat_r, x.sizes())), dims);
    if (c.needs_grad[2]) r[2] = sum(g, dims);
    return r;
  };
}

void define_batch_norm() {
  // inputs: x (N, C, *), weight, bias, running_mean, running_var (all (C)); outputs: y,
  // mean (C), rstd (C), var (C). Training: batch mean, 1/sqrt(biased var + eps) and the
  // unbiased var (for the running update). Eval: running_mean, 1/sqrt(running_var + eps),
  // running_var. attrs: training, eps.
  auto& d = ops::define_op("batch_norm", OpKind::opaque, 5, 4);
  d.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    check_floating(in[0], "batch_norm", "input");
    check_eps(a.get<double>("eps"), "batch_norm");
    DS_CHECK(in[0].dim() >= 2, "[batch_norm] input must be at least 2-D (N, C, *), got shape ",
             to_string(in[0].sizes()));
    int64_t c = in[0].sizes()[1];
    check_param(in, 1, {c}, "batch_norm", "weight");
    check_param(in, 2, {c}, "batch_norm", "bias");
    DType sd = stat_dtype(in[0].dtype());
    for (size_t i : {3, 4}) {
      const char* what = i == 3 ? "running_mean" : "running_var";
      check_floating(in[i], "batch_norm", what);
      DS_CHECK(in[i].sizes() == Shape{c}, "[batch_norm] ", what, " must have shape [", c,
               "], got ", to_string(in[i].sizes()));
      if (in[i].dtype() != sd) in[i] = cast(in[i], sd);
      if (!in[i].is_contiguous()) in[i] = contiguous(in[i]);
    }
    if (a.get<bool>("training")) {
      int64_t per_channel = in[0].numel() / std::max<int64_t>(c, 1);
      DS_CHECK(per_channel > 1 || in[0].numel() == 0,
               "[batch_norm] expected more than 1 value per channel when training, got input shape ",
               to_string(in[0].sizes()));
    }
    in[0] = ops::dense_nchw_or_nhwc(in[0]);  // channels_last stays: y is channels_last too
    TensorMeta st{{c}, sd, in[0].device()};
    return std::vector<TensorMeta>{ops::meta_of(in[0]), st, st, st};
  };
  ops::keep_channels_last(d, {0});
  d.nondiff_inputs = {3, 4};
  d.save_all_inputs = false;
  d.save_inputs = {0, 1};
  d.save_outputs = {1, 2};
  d.materialize_grads = false;
  d.flops = [](auto& in, auto&, auto&) { return norm_flops(in); };
  d.channels.links = {{0, 1, 1}, {1, 0, 1}, {2, 0, 1}, {3, 0, 1}, {4, 0, 1}};
  d.backward = [](const BackwardContext& c) {
    const Tensor &x = c.inputs[0], &w = c.inputs[1], &g = c.grads[0];
    int64_t ch = x.sizes()[1];
    Shape cs = channel_shape(x.dim(), ch);
    Tensor mean_ = reshape(c.outputs[1], cs), rstd = reshape(c.outputs[2], cs);
    auto dims = all_but_channel(x.dim());
    Grads r(5);
    if (c.attrs.get<bool>("training") && !c.grads[1].defined() && !c.grads[2].defined() &&
        !c.grads[3].defined()) {
      // The common case (no gradient reaches the statistics): two per-channel sums serve dx,
      // dw and db. With xc = x - mean, S1 = sum(g), S2 = sum(g xhat) = rstd sum(g xc), n values
      // per channel: dx = w rstd (g - S1/n - xhat S2/n) = g (w rstd) + xc k2 + k3 with
      // k2 = -w rstd^2 S2 / n, k3 = -w rstd S1 / n — 8 full-size passes instead of ~20.
      // A fused kernel does the two sums and dx in two passes over the data. It has no
      // backward, so it runs only when the backward is not itself recorded (create_graph):
      // double backward goes through the composite below, on every device.
      static const auto fused = ops::op_id("batch_norm_backward");
      if (!autograd::GradMode::enabled() && ops::Registry::get().at(fused).has_kernel(x.device().type)) {
        auto outs = ops::dispatch(fused, {g, x, w, c.outputs[1], c.outputs[2]});
        if (c.needs_grad[0]) r[0] = outs[0];
        if (c.needs_grad[1]) r[1] = outs[1];
        if (c.needs_grad[2]) r[2] = outs[2];
        return r;
      }
      double n = static_cast<double>(x.numel()) / static_cast<double>(std::max<int64_t>(ch, 1));
      Tensor xc = sub(x, mean_);
      Tensor s1 = sum(g, dims, true);
      Tensor s2 = mul(sum(mul(g, xc), dims, true), rstd);
      if (c.needs_grad[0]) {
        Tensor wr = mul(reshape(w, cs), rstd);
        Tensor k2 = mul(mul(wr, rstd), mul(s2, -1.0 / n));
        Tensor k3 = mul(wr, mul(s1, -1.0 / n));
        r[0] = add(add(mul(g, wr), mul(xc, k2)), k3);
      }
      if (c.needs_grad[1]) r[1] = reshape(s2, {ch});
      if (c.needs_grad[2]) r[2] = reshape(s1, {ch});
      return r;
    }
    Tensor xhat = mul(sub(x, mean_), rstd);
    if (c.needs_grad[0]) {
      Tensor gw = mul(g, reshape(w, cs));
      if (c.attrs.get<bool>("training")) {
        double per = static_cast<double>(x.numel()) / static_cast<double>(std::max<int64_t>(ch, 1));
        auto stat = [&](int i) { return c.grads[i].defined() ? reshape(c.grads[i], cs) : Tensor(); };
        r[0] = norm_dx_full(gw, xhat, rstd, dims, per, stat(1), stat(2), stat(3));
      } else {
        r[0] = mul(gw, rstd);  // running statistics are constants
      }
    }
    if (c.needs_grad[1]) r[1] = sum(mul(g, xhat), dims);
    if (c.needs_grad[2]) r[2] = sum(g, dims);
    return r;
  };
}

// Fused batch_norm backward (training, no gradient into the statistics): inputs g, x (N, C,
// *), weight (C), mean (C), rstd (C); outputs dx, dw, db with S1 = sum(g), S2 = rstd sum(g xc)
// per channel: dx = g w rstd - xc w rstd^2 S2 / n - w rstd S1 / n, dw = S2, db = S1. Kernels
// exist for CUDA and the CPU (where the composite's broadcast passes dominated ResNet
// training's non-conv time); it has no backward of its own, so batch_norm's backward takes
// the composite when it is itself recorded (double backward).
void define_batch_norm_backward() {
  auto& d = ops::define_op("batch_norm_backward", OpKind::opaque, 5, 3);
  d.infer = [](std::vector<Tensor>& in, const Attrs&) {
    const char* op = "batch_norm_backward";
    const Tensor& x = in[1];
    check_floating(x, op, "input");
    DS_CHECK(x.dim() >= 2, "[", op, "] input must be at least 2-D (N, C, *), got shape ", to_string(x.sizes()));
    DS_CHECK(in[0].sizes() == x.sizes(), "[", op, "] grad shape ", to_string(in[0].sizes()),
             " does not match input shape ", to_string(x.sizes()));
    int64_t c = x.sizes()[1];
    check_floating(in[2], op, "weight");
    DS_CHECK(in[2].sizes() == Shape{c}, "[", op, "] weight must have shape [", c, "], got ", to_string(in[2].sizes()));
    if (in[2].dtype() != x.dtype()) in[2] = cast(in[2], x.dtype());
    if (!in[2].is_contiguous()) in[2] = contiguous(in[2]);
    DType sd = stat_dtype(x.dtype());
    for (int i : {3, 4}) {
      check_floating(in[i], op, i == 3 ? "mean" : "rstd");
      DS_CHECK(in[i].sizes() == Shape{c}, "[", op, "] statistics must have shape [", c, "], got ",
               to_string(in[i].sizes()));
      if (in[i].dtype() != sd) in[i] = cast(in[i], sd);
      if (!in[i].is_contiguous()) in[i] = contiguous(in[i]);
    }
    if (in[0].dtype() != x.dtype()) in[0] = cast(in[0], x.dtype());
    // x row-major or channels_last, and g in x's layout (a copy only when they differ)
    in[1] = ops::dense_nchw_or_nhwc(in[1]);
    in[0] = contiguous(in[0], suggest_memory_format(in[1]));
    TensorMeta pm{{c}, in[2].dtype(), x.device()};
    return std::vector<TensorMeta>{ops::meta_of(in[1]), pm, pm};
  };
  ops::keep_channels_last(d, {1});
  d.nondiff_inputs = {3, 4};
  d.backward = [](const BackwardContext&) -> Grads {
    DS_THROW("[batch_norm_backward] double backward through batch_norm on CUDA is not supported");
  };
}

// Fused backward of layer_norm (Center) / rms_norm: inputs g, x, [mean], rstd, w; outputs dx,
// dw, [db]. Its own backward (double backward) is written with public ops. With
// J = <a, dx> + <bw, dw> + <bb, db>, Pa = a - [mean(a)] - xhat mean(a xhat) per row:
//   dJ/dg = r w Pa + bw xhat + bb,   dJ/dw = sum_rows g r Pa,
//   dJ/dx = r (u - [mean(u)] - xhat mean(u xhat)) - r^2/N <gw, Pa> xhat,
//   u = bw g - r/N (a <gw, xhat> + gw <a, xhat>),
// which already includes the paths through mean and rstd (so those inputs are nondiff).
void define_norm_backward(bool center) {
  const char* name = center ? "layer_norm_backward" : "rms_norm_backward";
  int n_in = center ? 5 : 4, n_out = center ? 3 : 2;
  auto& d = ops::define_op(name, OpKind::opaque, n_in, n_out);
  d.infer = [name, center](std::vector<Tensor>& in, const Attrs& a) {
    const Tensor& x = in[1];
    int64_t k = a.get<int64_t>("normalized_ndim");
    check_floating(x, name, "input");
    DS_CHECK(k >= 1 && k <= x.dim(), "[", name, "] bad normalized_ndim ", k);
    DS_CHECK(in[0].sizes() == x.sizes(), "[", name, "] grad shape ", to_string(in[0].sizes()),
             " does not match input shape ", to_string(x.sizes()));
    if (in[0].dtype() != x.dtype()) in[0] = cast(in[0], x.dtype());
    if (!in[0].is_contiguous()) in[0] = contiguous(in[0]);
    if (!in[1].is_contiguous()) in[1] = contiguous(in[1]);
    Shape norm(x.sizes().end() - k, x.sizes().end());
    DType sd = stat_dtype(x.dtype());
    for (int i = 2; i < (center ? 4 : 3); ++i) {
      DS_CHECK(in[i].numel() * numel(norm) == x.numel(), "[", name, "] statistics of shape ",
               to_string(in[i].sizes()), " do not match input shape ", to_string(x.sizes()));
      if (in[i].dtype() != sd) in[i] = cast(in[i], sd);
      if (!in[i].is_contiguous()) in[i] = contiguous(in[i]);
    }
    check_param(in, center ? 4 : 3, norm, name, "weight");
    std::vector<TensorMeta> out{ops::meta_of(in[1]), {norm, in[1].dtype(), in[1].device()}};
    if (center) out.push_back({norm, in[1].dtype(), in[1].device()});
    return out;
  };
  d.nondiff_inputs = center ? std::vector<int>{2, 3} : std::vector<int>{2};
  d.flops = [](auto& in, auto&, auto&) { return 10.0 * numel(in[0].sizes); };
  d.backward = [center](const BackwardContext& c) {
    const Tensor &g = c.inputs[0], &x = c.inputs[1];
    const Tensor& rstd = c.inputs[center ? 3 : 2];
    const Tensor& w = c.inputs[center ? 4 : 3];
    const Tensor &a = c.grads[0], &bw = c.grads[1];
    int64_t k = c.attrs.get<int64_t>("normalized_ndim");
    std::vector<int64_t> nd, lead;
    double n = 1;
    for (int64_t i = 0; i < x.dim(); ++i) {
      if (i < x.dim() - k) lead.push_back(i);
      else nd.push_back(i), n *= static_cast<double>(x.sizes()[i]);
    }
    Tensor xhat = center ? mul(sub(x, c.inputs[2]), rstd) : mul(x, rstd);
    Tensor gw = mul(g, w);
    Tensor ax = sum(mul(a, xhat), nd, true);
    Tensor pa = sub(a, mul(xhat, div(ax, n)));
    if (center) pa = sub(pa, mean(a, nd, true));
    Tensor rpa = mul(rstd, pa);
    Grads r(c.inputs.size());
    if (c.needs_grad[0]) {
      r[0] = add(mul(w, rpa), mul(bw, xhat));
      if (center) r[0] = add(r[0], c.grads[2]);
    }
    if (c.needs_grad[center ? 4 : 3]) {
      Tensor t = mul(g, rpa);
      r[center ? 4 : 3] = lead.empty() ? t : sum(t, lead);
    }
    if (c.needs_grad[1]) {
      Tensor gx = sum(mul(gw, xhat), nd, true);
      Tensor u = sub(mul(bw, g), mul(div(rstd, n), add(mul(a, gx), mul(gw, ax))));
      Tensor dxhat = norm_dx(u, xhat, rstd, nd, center);
      Tensor djdr = sum(mul(gw, pa), nd, true);
      r[1] = sub(dxhat, mul(mul(div(square(rstd), n), djdr), xhat));
    }
    return r;
  };
}

void define() {
  define_layer_norm();
  define_rms_norm();
  define_norm_backward(true);
  define_norm_backward(false);
  define_group_norm();
  define_batch_norm();
  define_batch_norm_backward();
}
DS_REGISTER(define);

Tensor param_or(const Tensor& p, int64_t n, double fill, const Tensor& x, const char* op,
                const char* what) {
  if (p.defined()) return p;
  DS_CHECK(is_floating(x.dtype()), "[", op, "] input must be a floating-point tensor, got ",
           dtype_name(x.dtype()));
  return full({n}, fill, {x.dtype(), x.device()});
}
Tensor param_or(const Tensor& p, const Shape& s, double fill, const Tensor& x, const char* op) {
  if (p.defined()) return p;
  DS_CHECK(is_floating(x.dtype()), "[", op, "] input must be a floating-point tensor, got ",
           dtype_name(x.dtype()));
  return full(s, fill, {x.dtype(), x.device()});
}

void check_defined(const Tensor& x, const char* op) {
  DS_CHECK(x.defined(), "[", op, "] input is an undefined tensor");
}

// The trailing dims of x that `normalized_shape` names; checks they match.
int64_t normalized_ndim(const Tensor& x, const Shape& ns, const char* op) {
  check_defined(x, op);
  int64_t k = static_cast<int64_t>(ns.size());
  DS_CHECK(k >= 1, "[", op, "] normalized_shape must have at least one dim");
  bool ok = k <= x.dim();
  for (int64_t i = 0; ok && i < k; ++i) ok = x.sizes()[x.dim() - k + i] == ns[i];
  DS_CHECK(ok, "[", op, "] normalized_shape ", to_string(ns),
           " does not match the trailing dims of input shape ", to_string(x.sizes()));
  return k;
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps) {
  static const auto op = ops::op_id("layer_norm");
  int64_t k = normalized_ndim(x, normalized_shape, "layer_norm");
  Tensor w = param_or(weight, normalized_shape, 1.0, x, "layer_norm");
  Tensor b = param_or(bias, normalized_shape, 0.0, x, "layer_norm");
  return ops::dispatch(op, {x, w, b}, Attrs().set("normalized_ndim", AV(k)).set("eps", AV(eps)))[0];
}

Tensor rms_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                std::optional<double> eps) {
  static const auto op = ops::op_id("rms_norm");
  int64_t k = normalized_ndim(x, normalized_shape, "rms_norm");
  Tensor w = param_or(weight, normalized_shape, 1.0, x, "rms_norm");
  // Default eps: the machine epsilon of x's dtype, as torch.nn.functional.rms_norm.
  double e = eps ? *eps
             : x.dtype() == DType::f64  ? std::numeric_limits<double>::epsilon()
             : x.dtype() == DType::f16  ? 0.0009765625
             : x.dtype() == DType::bf16 ? 0.0078125
                                        : static_cast<double>(std::numeric_limits<float>::epsilon());
  return ops::dispatch(op, {x, w}, Attrs().set("normalized_ndim", AV(k)).set("eps", AV(e)))[0];
}

Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias,
                  double eps) {
  static const auto op = ops::op_id("group_norm");
  check_defined(x, "group_norm");
  DS_CHECK(x.dim() >= 2, "[group_norm] input must be at least 2-D (N, C, *), got shape ",
           to_string(x.sizes()));
  int64_t c = x.sizes()[1];
  Tensor w = param_or(weight, c, 1.0, x, "group_norm", "weight");
  Tensor b = param_or(bias, c, 0.0, x, "group_norm", "bias");
  return ops::dispatch(op, {x, w, b}, Attrs().set("groups", AV(groups)).set("eps", AV(eps)))[0];
}

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                  Tensor running_var, bool training, double momentum, double eps) {
  static const auto op = ops::op_id("batch_norm");
  check_defined(x, "batch_norm");
  DS_CHECK(x.dim() >= 2, "[batch_norm] input must be at least 2-D (N, C, *), got shape ",
           to_string(x.sizes()));
  DS_CHECK(running_mean.defined() == running_var.defined(),
           "[batch_norm] running_mean and running_var must be given together");
  DS_CHECK(training || running_mean.defined(),
           "[batch_norm] running_mean and running_var are required in eval mode (training=false)");
  DS_CHECK(momentum >= 0 && momentum <= 1, "[batch_norm] momentum must be in [0, 1], got ", momentum);
  int64_t c = x.sizes()[1];
  Tensor w = param_or(weight, c, 1.0, x, "batch_norm", "weight");
  Tensor b = param_or(bias, c, 0.0, x, "batch_norm", "bias");
  bool has_running = running_mean.defined();
  DType sd = stat_dtype(x.dtype());
  Tensor rm = has_running ? running_mean : zeros({c}, {sd, x.device()});
  Tensor rv = has_running ? running_var : ones({c}, {sd, x.device()});
  auto outs = ops::dispatch(op, {x, w, b, rm, rv},
                            Attrs().set("training", AV(training)).set("eps", AV(eps)));
  if (training && has_running && x.numel() > 0) {
    // running = (1 - momentum) * running + momentum * batch statistic; the batch variance is
    // the unbiased one, as PyTorch. Autograd is off: the statistics are buffers.
    ops::InterposerOff no_autograd(ops::Slot::autograd);
    running_mean.mul_(1.0 - momentum);
    running_mean.add_(outs[1].detach(), momentum);
    running_var.mul_(1.0 - momentum);
    running_var.add_(outs[3].detach(), momentum);
  }
  return outs[0];
}

}  // namespace deepseek
