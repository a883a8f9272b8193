// Pooling and im2col: max_pool2d_with_indices (max_pool2d / max_pool1d on top), avg_pool2d
// (avg_pool1d on top), adaptive_avg_pool2d, unfold, and the linear gradient ops
// avg_pool2d_backward, adaptive_avg_pool2d_backward and fold. Max pooling's backward scatters
// through its indices with public ops; each linear op's backward is its adjoint, so double
// backward closes over these definitions.
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

Ints pair(const Attrs& a, const char* key, const Ints& def, const char* op, int64_t min) {
  Ints v = a.get<Ints>(key, def);
  DS_CHECK(v.size() == 2, "[", op, "] ", key, " must have 2 values, got ", to_string(v));
  for (auto x : v) DS_CHECK(x >= min, "[", op, "] ", key, " must be >= ", min, ", got ", to_string(v));
  return v;
}

void check_input(const Tensor& x, const char* op) {
  DS_CHECK(x.dim() == 4, "[", op, "] input must be 4-D (N, C, H, W), got shape ", to_string(x.sizes()));
  DS_CHECK(x.sizes()[1] > 0 && x.sizes()[2] > 0 && x.sizes()[3] > 0, "[", op,
           "] input must have non-empty C, H and W, got shape ", to_string(x.sizes()));
  DS_CHECK(is_floating(x.dtype()), "[", op, "] expects a floating-point input, got ", dtype_name(x.dtype()));
}

// Output shape of a sliding window over (H, W); checks kernel/stride/padding/dilation.
Shape window_shape(const Shape& x, const Attrs& a, const char* op, bool half_pad_rule) {
  Ints k = pair(a, "kernel", {}, op, 1);
  Ints s = pair(a, "stride", k, op, 1);
  Ints p = pair(a, "padding", {0, 0}, op, 0);
  Ints d = pair(a, "dilation", {1, 1}, op, 1);
  const bool ceil = a.get<bool>("ceil_mode", false);
  Shape out{x[0], x[1], 0, 0};
  for (int i = 0; i < 2; ++i) {
    if (half_pad_rule)
      DS_CHECK(p[i] <= k[i] / 2, "[", op, "] padding should be at most half of the kernel size, got padding ",
               to_string(p), " for kernel ", to_string(k));
    int64_t span = d[i] * (k[i] - 1) + 1;
    int64_t room = x[2 + i] + 2 * p[i] - span;
    DS_CHECK(room >= 0, "[", op, "] kernel ", to_string(k), " does not fit the input ", to_string(x),
             " with padding ", to_string(p));
    // ceil_mode keeps a last, partial window, as PyTorch, when it starts inside the input or
    // the left padding.
    int64_t o = (ceil ? (room + s[i] - 1) / s[i] : room / s[i]) + 1;
    if (ceil && (o - 1) * s[i] >= x[2 + i] + p[i]) --o;
    out[2 + i] = o;
  }
  return out;
}

Tensor contiguous_input(const Tensor& t) { return t.is_contiguous() ? t : contiguous(t); }

Attrs without(const Attrs& a, const char* key) {
  Attrs r;
  for (auto& [k, v] : a.items())
    if (k != key) r.set(k, v);
  return r;
}

Tensor call(const char* name, const Tensor& x, const Attrs& a) { return ops::dispatch1(ops::op_id(name), {x}, a); }

double window_flops(const std::vector<TensorMeta>&, const std::vector<TensorMeta>& out, const Attrs& a) {
  Ints k = a.get<Ints>("kernel", {1, 1});
  return static_cast<double>(numel(out[0].sizes)) * static_cast<double>(k[0] * k[1]);
}

ops::ChannelRule channel_passthrough() {
  ops::ChannelRule r;
  r.links = {{0, 0, 0}, {0, 1, 1}};
  return r;
}

void define() {
  auto& mp = ops::define_op("max_pool2d_with_indices", OpKind::opaque, 1, 2);
  mp.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    check_input(in[0], "max_pool2d");
    Shape s = window_shape(in[0].sizes(), a, "max_pool2d", true);
    in[0] = ops::dense_nchw_or_nhwc(in[0]);  // channels_last stays (values and indices)
    return std::vector<TensorMeta>{{s, in[0].dtype(), in[0].device()}, {s, DType::i64, in[0].device()}};
  };
  ops::keep_channels_last(mp, {0});
  mp.flops = window_flops;
  mp.channels = channel_passthrough();
  mp.save_all_inputs = false;
  mp.save_outputs = {1};
  mp.backward = [](const BackwardContext& c) {
    const Shape& xs = c.input_meta[0].sizes;
    const Tensor& g = c.grads[0];
    static const auto fused = ops::op_id("max_pool2d_backward");
    if (ops::Registry::get().at(fused).has_kernel(g.device().type))
      return Grads{ops::dispatch1(fused, {g, c.outputs[1]}, Attrs(c.attrs).set("input_size", xs))};
    if (suggest_memory_format(c.outputs[1]) == MemoryFormat::channels_last) {
      // channels_last: scatter over (N, H*W, C) views of the gradient and the indices (no
      // copies when the gradient is channels_last too); the result is channels_last.
      const Shape& os = c.outputs[1].sizes();
      auto rows = [&](const Tensor& t) { return reshape(permute(t, {0, 2, 3, 1}), {os[0], os[2] * os[3], os[1]}); };
      Tensor z = zeros({xs[0], xs[2] * xs[3], xs[1]}, {g.dtype(), g.device()});
      Tensor r = scatter_add(z, 1, rows(c.outputs[1]), rows(contiguous(g, MemoryFormat::channels_last)));
      return Grads{permute(reshape(r, {xs[0], xs[2], xs[3], xs[1]}), {0, 3, 1, 2})};
    }
    Tensor z = zeros({xs[0], xs[1], xs[2] * xs[3]}, {g.dtype(), g.device()});
    Tensor idx = reshape(c.outputs[1], {xs[0], xs[1], -1});
    return Grads{reshape(scatter_add(z, 2, idx, reshape(g, {xs[0], xs[1], -1})), xs)};
  };

  // max_pool2d's gradient as one kernel (CUDA: a gather; CPU: a scatter per plane; devices
  // without one take the scatter_add composite above): inputs grad and the forward's indices,
  // attrs the forward's plus input_size. Its own backward gathers the incoming gradient at the
  // indices.
  auto& mpb = ops::define_op("max_pool2d_backward", OpKind::opaque, 2);
  mpb.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    Shape xs = a.get<Ints>("input_size");
    DS_CHECK(xs.size() == 4, "[max_pool2d_backward] input_size must be 4-D, got ", to_string(xs));
    DS_CHECK(is_floating(in[0].dtype()) && in[1].dtype() == DType::i64,
             "[max_pool2d_backward] expects a floating-point gradient and i64 indices");
    Shape s = window_shape(xs, a, "max_pool2d_backward", true);
    DS_CHECK(in[0].sizes() == s && in[1].sizes() == s, "[max_pool2d_backward] grad and indices must have shape ",
             to_string(s), ", got ", to_string(in[0].sizes()), " and ", to_string(in[1].sizes()));
    MemoryFormat f = suggest_memory_format(in[1]);
    in[0] = contiguous(in[0], f);
    in[1] = contiguous(in[1], f);
    return std::vector<TensorMeta>{{xs, in[0].dtype(), in[0].device()}};
  };
  ops::keep_channels_last(mpb, {1});
  mpb.nondiff_inputs = {1};
  mpb.save_all_inputs = false;
  mpb.save_inputs = {1};
  mpb.backward = [](const BackwardContext& c) {
    const Tensor &gg = c.grads[0], &idx = c.inputs[1];
    const Shape& os = idx.sizes();
    Tensor picked = gather(reshape(gg, {os[0], os[1], -1}), 2, reshape(idx, {os[0], os[1], -1}));
    return Grads{reshape(picked, os), Tensor()};
  };

  auto& ap = ops::define_op("avg_pool2d", OpKind::opaque, 1);
  ap.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    check_input(in[0], "avg_pool2d");
    Shape s = window_shape(in[0].sizes(), a, "avg_pool2d", true);
    in[0] = contiguous_input(in[0]);
    return std::vector<TensorMeta>{{s, in[0].dtype(), in[0].device()}};
  };
  ap.flops = window_flops;
  ap.channels = channel_passthrough();
  ap.save_all_inputs = false;
  ap.backward = [](const BackwardContext& c) {
    return Grads{call("avg_pool2d_backward", c.grads[0], Attrs(c.attrs).set("input_size", c.input_meta[0].sizes))};
  };

  auto& apb = ops::define_op("avg_pool2d_backward", OpKind::opaque, 1);
  apb.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    Shape xs = a.get<Ints>("input_size");
    DS_CHECK(xs.size() == 4, "[avg_pool2d_backward] input_size must be 4-D, got ", to_string(xs));
    DS_CHECK(is_floating(in[0].dtype()), "[avg_pool2d_backward] expects a floating-point gradient");
    Shape s = window_shape(xs, a, "avg_pool2d_backward", true);
    DS_CHECK(in[0].sizes() == s, "[avg_pool2d_backward] grad_output must have shape ", to_string(s), ", got ",
             to_string(in[0].sizes()));
    in[0] = contiguous_input(in[0]);
    return std::vector<TensorMeta>{{xs, in[0].dtype(), in[0].device()}};
  };
  apb.flops = window_flops;
  apb.save_all_inputs = false;
  apb.backward = [](const BackwardContext& c) {
    return Grads{call("avg_pool2d", c.grads[0], without(c.attrs, "input_size"))};
  };

  auto& ad = ops::define_op("adaptive_avg_pool2d", OpKind::opaque, 1);
  ad.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    check_input(in[0], "adaptive_avg_pool2d");
    Ints o = pair(a, "output_size", {}, "adaptive_avg_pool2d", 1);
    in[0] = ops::dense_nchw_or_nhwc(in[0]);  // channels_last stays
    return std::vector<TensorMeta>{{{in[0].sizes()[0], in[0].sizes()[1], o[0], o[1]}, in[0].dtype(), in[0].device()}};
  };
  ad.flops = [](const std::vector<TensorMeta>& in, const std::vector<TensorMeta>&, const Attrs&) {
    return static_cast<double>(numel(in[0].sizes));
  };
  ad.channels = channel_passthrough();
  ad.save_all_inputs = false;
  ops::keep_channels_last(ad, {0});
  ad.backward = [](const BackwardContext& c) {
    return Grads{call("adaptive_avg_pool2d_backward", c.grads[0],
                      Attrs(c.attrs).set("input_size", c.input_meta[0].sizes))};
  };

  auto& adb = ops::define_op("adaptive_avg_pool2d_backward", OpKind::opaque, 1);
  adb.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    Shape xs = a.get<Ints>("input_size");
    DS_CHECK(xs.size() == 4 && in[0].dim() == 4 && in[0].sizes()[0] == xs[0] && in[0].sizes()[1] == xs[1],
             "[adaptive_avg_pool2d_backward] grad_output ", to_string(in[0].sizes()), " does not match input_size ",
             to_string(xs));
    DS_CHECK(is_floating(in[0].dtype()), "[adaptive_avg_pool2d_backward] expects a floating-point gradient");
    // attr memory_format: the forward input's layout (the gradient, often (N, C, 1, 1), may
    // not show it); the gradient is read in that layout.
    in[0] = contiguous(in[0], memory_format_from_name(a.get<std::string>("memory_format", "contiguous")));
    return std::vector<TensorMeta>{{xs, in[0].dtype(), in[0].device()}};
  };
  adb.save_all_inputs = false;
  ops::keep_channels_last(adb, {});
  adb.backward = [](const BackwardContext& c) {
    Shape o = c.input_meta[0].sizes;
    return Grads{call("adaptive_avg_pool2d", c.grads[0], Attrs().set("output_size", Ints{o[2], o[3]}))};
  };

  auto& uf = ops::define_op("unfold", OpKind::opaque, 1);
  uf.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    check_input(in[0], "unfold");
    Shape s = window_shape(in[0].sizes(), a, "unfold", false);
    Ints k = a.get<Ints>("kernel");
    in[0] = contiguous_input(in[0]);
    return std::vector<TensorMeta>{
        {{s[0], s[1] * k[0] * k[1], s[2] * s[3]}, in[0].dtype(), in[0].device()}};
  };
  uf.flops = [](auto&, auto&, auto&) { return 0.0; };
  uf.save_all_inputs = false;
  uf.backward = [](const BackwardContext& c) {
    const Shape& xs = c.input_meta[0].sizes;
    return Grads{call("fold", c.grads[0], Attrs(c.attrs).set("output_size", Ints{xs[2], xs[3]}))};
  };

  auto& fo = ops::define_op("fold", OpKind::opaque, 1);
  fo.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    const Tensor& cols = in[0];
    DS_CHECK(cols.dim() == 3, "[fold] input must be 3-D (N, C*kH*kW, L), got shape ", to_string(cols.sizes()));
    DS_CHECK(is_floating(cols.dtype()), "[fold] expects a floating-point input, got ", dtype_name(cols.dtype()));
    Ints o = pair(a, "output_size", {}, "fold", 1);
    Ints k = pair(a, "kernel", {}, "fold", 1);
    DS_CHECK(cols.sizes()[1] % (k[0] * k[1]) == 0, "[fold] dim 1 (", cols.sizes()[1],
             ") must be divisible by the kernel's size ", k[0] * k[1]);
    int64_t C = cols.sizes()[1] / (k[0] * k[1]);
    Shape xs{cols.sizes()[0], C, o[0], o[1]};
    Shape s = window_shape(xs, a, "fold", false);
    DS_CHECK(s[2] * s[3] == cols.sizes()[2], "[fold] expected ", s[2] * s[3], " blocks (dim 2) for output_size ",
             to_string(o), ", got ", cols.sizes()[2]);
    in[0] = contiguous_input(in[0]);
    return std::vector<TensorMeta>{{xs, cols.dtype(), cols.device()}};
  };
  fo.flops = [](auto&, auto&, auto&) { return 0.0; };
  fo.save_all_inputs = false;
  fo.backward = [](const BackwardContext& c) { return Grads{call("unfold", c.grads[0], without(c.attrs, "output_size"))}; };
}
DS_REGISTER(define);

Attrs window_attrs(const Ints& kernel, const Ints& stride, const Ints& padding) {
  Attrs a;
  a.set("kernel", kernel);
  a.set("stride", stride.empty() ? kernel : stride);
  a.set("padding", padding);
  return a;
}

// Pools accept unbatched (C, H, W) input as PyTorch does.
template <typename F>
Tensor batched(const Tensor& x, const char* op, F f) {
  DS_CHECK(x.defined(), "[", op, "] got an undefined tensor");
  DS_CHECK(x.dim() == 3 || x.dim() == 4, "[", op, "] input must be 4-D (N, C, H, W) or 3-D (C, H, W), got shape ",
           to_string(x.sizes()));
  if (x.dim() == 4) return f(x);
  return squeeze(f(unsqueeze(x, 0)), 0);
}

// 1-D pools run as 2-D pools over a height of 1; their errors name the 1-D op.
template <typename F>
Tensor as_1d(const Tensor& x, const char* op, const char* inner, F f) {
  DS_CHECK(x.defined(), "[", op, "] got an undefined tensor");
  DS_CHECK(x.dim() == 2 || x.dim() == 3, "[", op, "] input must be 3-D (N, C, L) or 2-D (C, L), got shape ",
           to_string(x.sizes()));
  Tensor x3 = x.dim() == 2 ? unsqueeze(x, 0) : x;
  Tensor y;
  try {
    y = squeeze(f(unsqueeze(x3, 2)), 2);
  } catch (const Error& e) {
    std::string m = e.what(), tag = std::string("[") + inner + "]";
    auto p = m.find(tag);
    if (p != std::string::npos) m.replace(p, tag.size(), std::string("[") + op + "]");
    throw Error(m);
  }
  return x.dim() == 2 ? squeeze(y, 0) : y;
}
}  // namespace

std::tuple<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, std::vector<int64_t> kernel,
                                                   std::vector<int64_t> stride, std::vector<int64_t> padding,
                                                   std::vector<int64_t> dilation, bool ceil_mode) {
  static const auto op = ops::op_id("max_pool2d_with_indices");
  DS_CHECK(x.defined() && (x.dim() == 3 || x.dim() == 4),
           "[max_pool2d] input must be 4-D (N, C, H, W) or 3-D (C, H, W), got shape ",
           x.defined() ? to_string(x.sizes()) : std::string("undefined"));
  Tensor x4 = x.dim() == 3 ? unsqueeze(x, 0) : x;
  Attrs a = window_attrs(kernel, stride, padding);
  a.set("dilation", dilation).set("ceil_mode", ceil_mode);
  auto r = ops::dispatch(op, {x4}, a);
  if (x.dim() == 3) return {squeeze(r[0], 0), squeeze(r[1], 0)};
  return {r[0], r[1]};
}

Tensor max_pool2d(const Tensor& x, std::vector<int64_t> kernel, std::vector<int64_t> stride,
                  std::vector<int64_t> padding, std::vector<int64_t> dilation, bool ceil_mode) {
  return std::get<0>(max_pool2d_with_indices(x, kernel, stride, padding, dilation, ceil_mode));
}

Tensor max_pool1d(const Tensor& x, int64_t kernel, std::optional<int64_t> stride, int64_t padding) {
  return as_1d(x, "max_pool1d", "max_pool2d", [&](const Tensor& x4) {
    return max_pool2d(x4, {1, kernel}, {1, stride.value_or(kernel)}, {0, padding});
  });
}

Tensor avg_pool2d(const Tensor& x, std::vector<int64_t> kernel, std::vector<int64_t> stride,
                  std::vector<int64_t> padding, bool count_include_pad) {
  static const auto op = ops::op_id("avg_pool2d");
  Attrs a = window_attrs(kernel, stride, padding);
  a.set("count_include_pad", ops::AttrValue(count_include_pad));
  return batched(x, "avg_pool2d", [&](const Tensor& x4) { return ops::dispatch1(op, {x4}, a); });
}

Tensor avg_pool1d(const Tensor& x, int64_t kernel, std::optional<int64_t> stride, int64_t padding) {
  return as_1d(x, "avg_pool1d", "avg_pool2d", [&](const Tensor& x4) {
    return avg_pool2d(x4, {1, kernel}, {1, stride.value_or(kernel)}, {0, padding}, true);
  });
}

Tensor adaptive_avg_pool2d(const Tensor& x, std::vector<int64_t> output_size) {
  static const auto op = ops::op_id("adaptive_avg_pool2d");
  return batched(x, "adaptive_avg_pool2d", [&](const Tensor& x4) {
    Attrs a = Attrs().set("output_size", output_size);
    if (suggest_memory_format(x4) == MemoryFormat::channels_last) a.set("memory_format", ops::memory_format_attr(x4));
    return ops::dispatch1(op, {x4}, a);
  });
}

Tensor unfold(const Tensor& x, std::vector<int64_t> kernel, std::vector<int64_t> dilation,
              std::vector<int64_t> padding, std::vector<int64_t> stride) {
  static const auto op = ops::op_id("unfold");
  Attrs a;
  a.set("kernel", kernel);
  a.set("dilation", dilation);
  a.set("padding", padding);
  a.set("stride", stride);
  return batched(x, "unfold", [&](const Tensor& x4) { return ops::dispatch1(op, {x4}, a); });
}

Tensor fold(const Tensor& cols, std::vector<int64_t> output_size, std::vector<int64_t> kernel,
            std::vector<int64_t> dilation, std::vector<int64_t> padding, std::vector<int64_t> stride) {
  static const auto op = ops::op_id("fold");
  Attrs a;
  a.set("output_size", output_size);
  a.set("kernel", kernel);
  a.set("dilation", dilation);
  a.set("padding", padding);
  a.set("stride", stride);
  return ops::dispatch1(op, {cols}, a);
}

Tensor avg_pool2d_backward(const Tensor& grad_out, const Shape& input_size, std::vector<int64_t> kernel,
                           std::vector<int64_t> stride, std::vector<int64_t> padding, bool count_include_pad) {
  static const auto op = ops::op_id("avg_pool2d_backward");
  Attrs a = window_attrs(kernel, stride, padding);
  a.set("count_include_pad", ops::AttrValue(count_include_pad));
  a.set("input_size", input_size);
  return ops::dispatch1(op, {grad_out}, a);
}

Tensor adaptive_avg_pool2d_backward(const Tensor& grad_out, const Shape& input_size) {
  static const auto op = ops::op_id("adaptive_avg_pool2d_backward");
  return ops::dispatch1(op, {grad_out}, Attrs().set("input_size", input_size));
}

}  // namespace deepseek
