// Convolutions: conv2d (stride, explicit or 'same'/'valid' padding, dilation, groups incl.
// depthwise), conv1d (conv2d over a height of 1), conv_transpose2d, and the two gradient ops
// conv2d_backward_input / conv2d_backward_weight. The three conv ops are bilinear forms of
// one another, so every backward rule is written with these same ops and double backward
// closes over them.
#include "deepseek/ops/defs/common.h"
#include "deepseek/ops/linalg_backward.h"

namespace deepseek {
namespace {
using ops::Attrs;
using ops::BackwardContext;
using ops::OpKind;
using ops::TensorMeta;
using Grads = std::vector<Tensor>;
using Ints = std::vector<int64_t>;

struct ConvArgs {
  Ints stride, padding, padding_r, dilation, output_padding;
  int64_t groups;
};

Ints pair_attr(const Attrs& a, const char* key, Ints def, const char* op, int64_t min) {
  Ints v = a.get<Ints>(key, def);
  DS_CHECK(v.size() == 2, "[", op, "] ", key, " must have 2 values, got ", v.size());
  for (auto x : v) DS_CHECK(x >= min, "[", op, "] ", key, " must be >= ", min, ", got ", to_string(v));
  return v;
}

ConvArgs read_args(const Attrs& a, const char* op) {
  ConvArgs c;
  c.stride = pair_attr(a, "stride", {1, 1}, op, 1);
  c.padding = pair_attr(a, "padding", {0, 0}, op, 0);
  c.padding_r = pair_attr(a, "padding_r", c.padding, op, 0);
  c.dilation = pair_attr(a, "dilation", {1, 1}, op, 1);
  c.output_padding = pair_attr(a, "output_padding", {0, 0}, op, 0);
  c.groups = a.get<int64_t>("groups", 1);
  DS_CHECK(c.groups >= 1, "[", op, "] groups must be positive, got ", c.groups);
  return c;
}

DType check_dtypes(const std::vector<Tensor>& in, const char* op) {
  DType t = in[0].dtype();
  for (size_t i = 0; i < in.size(); ++i) {
    DS_CHECK(is_floating(in[i].dtype()), "[", op, "] expects floating-point tensors, got ",
             dtype_name(in[i].dtype()), " (input ", i, ")");
    DS_CHECK(in[i].dtype() == t, "[", op, "] expects tensors of one dtype, got ", dtype_name(t), " and ",
             dtype_name(in[i].dtype()));
  }
  return t;
}

// Output (N, OC, OH, OW) of a convolution of input shape x with weight shape w; checks both.
Shape conv_shape(const Shape& x, const Shape& w, const ConvArgs& c, const char* op, const char* xname = "input") {
  DS_CHECK(x.size() == 4, "[", op, "] ", xname, " must be 4-D (N, C, H, W), got shape ", to_string(x));
  DS_CHECK(w.size() == 4, "[", op, "] weight must be 4-D (out_channels, in_channels/groups, kH, kW), got shape ",
           to_string(w));
  DS_CHECK(x[1] > 0 && x[2] > 0 && x[3] > 0, "[", op, "] ", xname, " must have non-empty C, H and W, got shape ",
           to_string(x));
  DS_CHECK(w[0] > 0 && w[2] > 0 && w[3] > 0, "[", op, "] weight must be non-empty, got shape ", to_string(w));
  DS_CHECK(w[0] % c.groups == 0, "[", op, "] out_channels (", w[0], ") must be divisible by groups (", c.groups, ")");
  DS_CHECK(x[1] % c.groups == 0, "[", op, "] in_channels (", x[1], ") must be divisible by groups (", c.groups, ")");
  DS_CHECK(w[1] * c.groups == x[1], "[", op, "] weight of shape ", to_string(w), " expects ", w[1] * c.groups,
           " input channels (groups=", c.groups, "), but ", xname, " of shape ", to_string(x), " has ", x[1]);
  Shape out{x[0], w[0], 0, 0};
  for (int i = 0; i < 2; ++i) {
    int64_t span = c.dilation[i] * (w[2 + i] - 1) + 1;
    int64_t padded = x[2 + i] + c.padding[i] + c.padding_r[i];
    DS_CHECK(span <= padded, "[", op, "] kernel size ", span, " (after dilation) is larger than the padded ",
             xname, " size ", padded, " in dim ", 2 + i, " (", xname, " shape ", to_string(x), ")");
    out[2 + i] = (padded - span) / c.stride[i] + 1;
  }
  return out;
}

void check_bias(const std::vector<Tensor>& in, int64_t channels, const char* op) {
  if (in.size() < 3) return;
  DS_CHECK(in[2].dim() == 1 && in[2].sizes()[0] == channels, "[", op, "] bias must be 1-D of size ", channels,
           " (out_channels), got shape ", to_string(in[2].sizes()));
}

Attrs conv_attrs(const Attrs& a) {
  Attrs r;
  for (const char* k : {"stride", "padding", "padding_r", "dilation", "groups"})
    if (const auto* v = a.find(k)) r.set(k, *v);
  return r;
}

Tensor call(const char* name, std::vector<Tensor> in, const Attrs& a) {
  return ops::dispatch1(ops::op_id(name), std::move(in), a);
}

double conv_flops(const Shape& out, const Shape& w) {
  return 2.0 * static_cast<double>(numel(out)) * static_cast<double>(w[1] * w[2] * w[3]);
}

void define() {
  auto& c = ops::define_op("conv2d", OpKind::opaque, -1);
  ops::keep_channels_last(c, {0, 1});  // PyTorch: channels_last if either operand is
  c.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    DS_CHECK(in.size() == 2 || in.size() == 3, "[conv2d] expects (input, weight[, bias]), got ", in.size(), " tensors");
    ConvArgs ca = read_args(a, "conv2d");
    DType t = check_dtypes(in, "conv2d");
    Shape s = conv_shape(in[0].sizes(), in[1].sizes(), ca, "conv2d");
    check_bias(in, in[1].sizes()[0], "conv2d");
    return std::vector<TensorMeta>{{s, t, in[0].device()}};
  };
  c.flops = [](const std::vector<TensorMeta>& in, const std::vector<TensorMeta>& out, const Attrs&) {
    return conv_flops(out[0].sizes, in[1].sizes);
  };
  c.channels.links = {{1, 0, 1}, {2, 0, 1}, {0, 1, -1000}, {1, 1, -1000}};
  c.backward = [](const BackwardContext& ctx) {
    const Tensor &g = ctx.grads[0], &x = ctx.inputs[0], &w = ctx.inputs[1];
    Attrs ca = conv_attrs(ctx.attrs);
    Grads r(ctx.inputs.size());
    if (ctx.needs_grad[0]) r[0] = call("conv2d_backward_input", {g, w}, Attrs(ca).set("input_size", x.sizes()));
    if (ctx.needs_grad[1]) r[1] = call("conv2d_backward_weight", {g, x}, Attrs(ca).set("weight_size", w.sizes()));
    if (ctx.inputs.size() > 2 && ctx.needs_grad[2]) r[2] = sum(g, {0, 2, 3});
    return r;
  };

  // (grad_out, weight) -> grad_input of shape attr input_size.
  auto& bi = ops::define_op("conv2d_backward_input", OpKind::opaque, 2);
  ops::keep_channels_last(bi, {0, 1});  // PyTorch: channels_last if either operand is
  bi.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    ConvArgs ca = read_args(a, "conv2d_backward_input");
    DType t = check_dtypes(in, "conv2d_backward_input");
    Shape xs = a.get<Ints>("input_size");
    Shape ys = conv_shape(xs, in[1].sizes(), ca, "conv2d_backward_input");
    DS_CHECK(in[0].sizes() == ys, "[conv2d_backward_input] grad_output must have shape ", to_string(ys),
             " for input size ", to_string(xs), ", got ", to_string(in[0].sizes()));
    return std::vector<TensorMeta>{{xs, t, in[0].device()}};
  };
  bi.flops = [](const std::vector<TensorMeta>& in, const std::vector<TensorMeta>&, const Attrs&) {
    return conv_flops(in[0].sizes, in[1].sizes);
  };
  bi.channels.links = {{1, 1, 1}, {0, 1, -1000}, {1, 0, -1000}};
  bi.backward = [](const BackwardContext& ctx) {
    const Tensor &g = ctx.inputs[0], &w = ctx.inputs[1], &v = ctx.grads[0];
    Attrs ca = conv_attrs(ctx.attrs);
    Grads r(2);
    if (ctx.needs_grad[0]) r[0] = call("conv2d", {v, w}, ca);
    if (ctx.needs_grad[1]) r[1] = call("conv2d_backward_weight", {g, v}, Attrs(ca).set("weight_size", w.sizes()));
    return r;
  };

  // (grad_out, input) -> grad_weight of shape attr weight_size.
  auto& bw = ops::define_op("conv2d_backward_weight", OpKind::opaque, 2);
  ops::keep_channels_last(bw, {0, 1});  // PyTorch: channels_last if either operand is
  bw.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    ConvArgs ca = read_args(a, "conv2d_backward_weight");
    DType t = check_dtypes(in, "conv2d_backward_weight");
    Shape ws = a.get<Ints>("weight_size");
    Shape ys = conv_shape(in[1].sizes(), ws, ca, "conv2d_backward_weight");
    DS_CHECK(in[0].sizes() == ys, "[conv2d_backward_weight] grad_output must have shape ", to_string(ys), ", got ",
             to_string(in[0].sizes()));
    return std::vector<TensorMeta>{{ws, t, in[0].device()}};
  };
  bw.flops = [](const std::vector<TensorMeta>& in, const std::vector<TensorMeta>& out, const Attrs&) {
    return conv_flops(in[0].sizes, out[0].sizes);
  };
  bw.channels.links = {{0, 1, 0}, {1, 1, 1}};
  bw.backward = [](const BackwardContext& ctx) {
    const Tensor &g = ctx.inputs[0], &x = ctx.inputs[1], &v = ctx.grads[0];
    Attrs ca = conv_attrs(ctx.attrs);
    Grads r(2);
    if (ctx.needs_grad[0]) r[0] = call("conv2d", {x, v}, ca);
    if (ctx.needs_grad[1]) r[1] = call("conv2d_backward_input", {g, v}, Attrs(ca).set("input_size", x.sizes()));
    return r;
  };

  // conv_transpose2d(x, w[, b]), w: (in_channels, out_channels/groups, kH, kW).
  auto& ct = ops::define_op("conv_transpose2d", OpKind::opaque, -1);
  ops::keep_channels_last(ct, {0, 1});  // PyTorch: channels_last if either operand is
  ct.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    const char* op = "conv_transpose2d";
    DS_CHECK(in.size() == 2 || in.size() == 3, "[conv_transpose2d] expects (input, weight[, bias]), got ", in.size(),
             " tensors");
    ConvArgs ca = read_args(a, op);
    DType t = check_dtypes(in, op);
    const Shape &x = in[0].sizes(), &w = in[1].sizes();
    DS_CHECK(x.size() == 4, "[conv_transpose2d] input must be 4-D (N, C, H, W), got shape ", to_string(x));
    DS_CHECK(w.size() == 4, "[conv_transpose2d] weight must be 4-D (in_channels, out_channels/groups, kH, kW), got shape ",
             to_string(w));
    DS_CHECK(x[1] > 0 && x[2] > 0 && x[3] > 0, "[conv_transpose2d] input must have non-empty C, H and W, got shape ",
             to_string(x));
    DS_CHECK(w[0] == x[1], "[conv_transpose2d] weight of shape ", to_string(w), " expects ", w[0],
             " input channels, but input of shape ", to_string(x), " has ", x[1]);
    DS_CHECK(x[1] % ca.groups == 0, "[conv_transpose2d] in_channels (", x[1], ") must be divisible by groups (",
             ca.groups, ")");
    DS_CHECK(w[1] > 0 && w[2] > 0 && w[3] > 0, "[conv_transpose2d] weight must be non-empty, got shape ", to_string(w));
    Shape out{x[0], w[1] * ca.groups, 0, 0};
    for (int i = 0; i < 2; ++i) {
      DS_CHECK(ca.output_padding[i] < ca.stride[i] || ca.output_padding[i] < ca.dilation[i],
               "[conv_transpose2d] output_padding must be smaller than stride or dilation, got ",
               to_string(ca.output_padding));
      out[2 + i] = (x[2 + i] - 1) * ca.stride[i] - 2 * ca.padding[i] + ca.dilation[i] * (w[2 + i] - 1) +
                   ca.output_padding[i] + 1;
      DS_CHECK(out[2 + i] > 0, "[conv_transpose2d] output size would be ", out[2 + i], " in dim ", 2 + i);
    }
    check_bias(in, out[1], op);
    return std::vector<TensorMeta>{{out, t, in[0].device()}};
  };
  ct.flops = [](const std::vector<TensorMeta>& in, const std::vector<TensorMeta>&, const Attrs&) {
    return conv_flops(in[0].sizes, in[1].sizes);
  };
  ct.channels.links = {{1, 1, 1}, {2, 0, 1}, {0, 1, -1000}, {1, 0, -1000}};
  ct.backward = [](const BackwardContext& ctx) {
    const Tensor &g = ctx.grads[0], &x = ctx.inputs[0], &w = ctx.inputs[1];
    Attrs ca;
    for (const char* k : {"stride", "padding", "dilation", "groups"})
      if (const auto* v = ctx.attrs.find(k)) ca.set(k, *v);
    Grads r(ctx.inputs.size());
    if (ctx.needs_grad[0]) r[0] = call("conv2d", {g, w}, ca);
    if (ctx.needs_grad[1]) r[1] = call("conv2d_backward_weight", {x, g}, Attrs(ca).set("weight_size", w.sizes()));
    if (ctx.inputs.size() > 2 && ctx.needs_grad[2]) r[2] = sum(g, {0, 2, 3});
    return r;
  };
}
DS_REGISTER(define);

Attrs make_conv_attrs(const Ints& stride, const Ints& padding, const Ints& dilation, int64_t groups,
                      const Ints& padding_r = {}) {
  Attrs a;
  a.set("stride", stride);
  a.set("padding", padding);
  a.set("dilation", dilation);
  a.set("groups", ops::AttrValue(groups));
  if (!padding_r.empty() && padding_r != padding) a.set("padding_r", padding_r);
  return a;
}

std::vector<Tensor> with_bias(const Tensor& x, const Tensor& w, const Tensor& b) {
  if (b.defined()) return {x, w, b};
  return {x, w};
}
}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, std::vector<int64_t> stride,
              std::vector<int64_t> padding, std::vector<int64_t> dilation, int64_t groups) {
  static const auto op = ops::op_id("conv2d");
  return ops::dispatch1(op, with_bias(x, w, bias), make_conv_attrs(stride, padding, dilation, groups));
}

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, std::vector<int64_t> stride,
              const std::string& padding, std::vector<int64_t> dilation, int64_t groups) {
  if (padding == "valid") return conv2d(x, w, bias, stride, Ints{0, 0}, dilation, groups);
  DS_CHECK(padding == "same", "[conv2d] padding must be 'same', 'valid' or explicit numbers, got '", padding, "'");
  DS_CHECK(w.defined() && w.dim() == 4, "[conv2d] weight must be 4-D (out_channels, in_channels/groups, kH, kW)",
           w.defined() ? ", got shape " + to_string(w.sizes()) : std::string());
  DS_CHECK(stride.size() == 2 && stride[0] == 1 && stride[1] == 1,
           "[conv2d] padding='same' needs stride 1, got stride ", to_string(stride));
  DS_CHECK(dilation.size() == 2, "[conv2d] dilation must have 2 values");
  // Total padding d*(k-1), the odd one out going to the end (bottom/right), as PyTorch.
  Ints pl(2), pr(2);
  for (int i = 0; i < 2; ++i) {
    int64_t total = dilation[i] * (w.sizes()[2 + i] - 1);
    pl[i] = total / 2;
    pr[i] = total - pl[i];
  }
  static const auto op = ops::op_id("conv2d");
  return ops::dispatch1(op, with_bias(x, w, bias), make_conv_attrs(stride, pl, dilation, groups, pr));
}

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, std::initializer_list<int64_t> stride,
              std::initializer_list<int64_t> padding, std::initializer_list<int64_t> dilation, int64_t groups) {
  return conv2d(x, w, bias, Ints(stride), Ints(padding), Ints(dilation), groups);
}

Tensor conv1d(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t stride, int64_t padding,
              int64_t dilation, int64_t groups) {
  DS_CHECK(x.defined() && w.defined(), "[conv1d] got an undefined tensor");
  DS_CHECK(x.dim() == 3 || x.dim() == 2, "[conv1d] input must be 3-D (N, C, L) or 2-D (C, L), got shape ",
           to_string(x.sizes()));
  DS_CHECK(w.dim() == 3, "[conv1d] weight must be 3-D (out_channels, in_channels/groups, k), got shape ",
           to_string(w.sizes()));
  Tensor x3 = x.dim() == 2 ? unsqueeze(x, 0) : x;
  Tensor y;
  try {
    y = conv2d(unsqueeze(x3, 2), unsqueeze(w, 2), bias, Ints{1, stride}, Ints{0, padding}, Ints{1, dilation}, groups);
  } catch (const Error& e) {
    std::string m = e.what();
    auto p = m.find("[conv2d]");
    if (p != std::string::npos) m.replace(p, 8, "[conv1d]");
    throw Error(m);
  }
  y = squeeze(y, 2);
  return x.dim() == 2 ? squeeze(y, 0) : y;
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& bias, std::vector<int64_t> stride,
                        std::vector<int64_t> padding, std::vector<int64_t> output_padding, int64_t groups,
                        std::vector<int64_t> dilation) {
  static const auto op = ops::op_id("conv_transpose2d");
  Attrs a = make_conv_attrs(stride, padding, dilation, groups);
  a.set("output_padding", output_padding);
  return ops::dispatch1(op, with_bias(x, w, bias), a);
}

Tensor conv2d_backward_input(const Tensor& grad_out, const Tensor& weight, const Shape& input_size,
                             std::vector<int64_t> stride, std::vector<int64_t> padding,
                             std::vector<int64_t> dilation, int64_t groups, std::vector<int64_t> padding_r) {
  static const auto op = ops::op_id("conv2d_backward_input");
  Attrs a = make_conv_attrs(stride, padding, dilation, groups, padding_r);
  a.set("input_size", input_size);
  return ops::dispatch1(op, {grad_out, weight}, a);
}

Tensor conv2d_backward_weight(const Tensor& grad_out, const Tensor& input, const Shape& weight_size,
                              std::vector<int64_t> stride, std::vector<int64_t> padding,
                              std::vector<int64_t> dilation, int64_t groups, std::vector<int64_t> padding_r) {
  static const auto op = ops::op_id("conv2d_backward_weight");
  Attrs a = make_conv_attrs(stride, padding, dilation, groups, padding_r);
  a.set("weight_size", weight_size);
  return ops::dispatch1(op, {grad_out, input}, a);
}

}  // namespace deepseek
