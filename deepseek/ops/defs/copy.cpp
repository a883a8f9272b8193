// Type casts, copies between tensors and devices, and fill. `copy` is the functional form of
// copy_: its result is src broadcast to dst's shape in dst's dtype, written into dst in place.
#include "deepseek/ops/defs/common.h"

namespace deepseek {
namespace {
using ops::Attrs;
using ops::OpKind;
using ops::TensorMeta;

void define() {
  auto& c = ops::define_op("cast", OpKind::elementwise, 1);
  c.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    DType d = dtype_from_name(a.get<std::string>("dtype"));
    DS_CHECK(static_cast<int>(d) < kNumDTypes, "dtype ", dtype_name(d), " is reserved");
    return std::vector<TensorMeta>{ops::meta_of(in[0], d)};
  };
  c.backward = [](const ops::BackwardContext& ctx) {
    return std::vector<Tensor>{cast(ctx.grads[0], ctx.input_meta[0].dtype)};
  };
  c.save_all_inputs = false;
  c.flops = [](auto&, auto&, auto&) { return 0.0; };

  auto& cp = ops::define_op("copy", OpKind::elementwise, 2);
  cp.infer = [](std::vector<Tensor>& in, const Attrs&) {
    broadcast_shapes(in[0].sizes(), in[1].sizes(), "copy");
    DS_CHECK(numel(broadcast_shapes(in[0].sizes(), in[1].sizes(), "copy")) == in[0].numel(),
             "source of shape ", to_string(in[1].sizes()),
             " does not broadcast to the destination's shape ", to_string(in[0].sizes()));
    return std::vector<TensorMeta>{ops::meta_of(in[0])};
  };
  cp.backward = [](const ops::BackwardContext& ctx) {
    return std::vector<Tensor>{Tensor(), ops::reduce_grad_to(ctx.grads[0], ctx.input_meta[1])};
  };
  cp.save_all_inputs = false;
  cp.casts_to_self = true;

  // clone: a dense copy, row-major or in the layout named by attr memory_format (opaque, so
  // the output does not follow the input's strides).
  auto& cl = ops::define_op("clone", OpKind::opaque, 1);
  cl.output_layout = [](const std::vector<Tensor>&, const Attrs& a, size_t) {
    return memory_format_from_name(a.get<std::string>("memory_format", "contiguous"));
  };
  cl.infer = [](std::vector<Tensor>& in, const Attrs&) {
    return std::vector<TensorMeta>{ops::meta_of(in[0])};
  };
  cl.backward = [](const ops::BackwardContext& ctx) { return std::vector<Tensor>{ctx.grads[0]}; };
  cl.save_all_inputs = false;
  cl.channels.passthrough = true;

  auto& f = ops::define_op("fill", OpKind::elementwise, 1);
  f.infer = [](std::vector<Tensor>& in, const Attrs&) {
    return std::vector<TensorMeta>{ops::meta_of(in[0])};
  };
  f.backward = [](const ops::BackwardContext&) { return std::vector<Tensor>{Tensor()}; };
  f.save_all_inputs = false;

  auto& td = ops::define_op("to_device", OpKind::opaque, 1);
  td.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    return std::vector<TensorMeta>{{in[0].sizes(), in[0].dtype(), Device(a.get<std::string>("device"))}};
  };
  td.backward = [](const ops::BackwardContext& ctx) {
    return std::vector<Tensor>{to_device(ctx.grads[0], ctx.input_meta[0].device)};
  };
  td.save_all_inputs = false;
}
DS_REGISTER(define);
}  // namespace

Tensor cast(const Tensor& t, DType dtype) {
  static const auto op = ops::op_id("cast");
  if (t.dtype() == dtype) return t;
  return ops::dispatch1(op, {t}, Attrs().set("dtype", ops::dtype_attr(dtype)));
}

Tensor to_device(const Tensor& t, Device device) {
  static const auto op = ops::op_id("to_device");
  if (t.device() == device) return t;
  return ops::dispatch1(op, {t}, Attrs().set("device", device.str()));
}

Tensor clone(const Tensor& t) {
  static const auto op = ops::op_id("clone");
  return ops::dispatch1(op, {t});
}

Tensor clone(const Tensor& t, MemoryFormat format) {
  static const auto op = ops::op_id("clone");
  if (format == MemoryFormat::contiguous) return clone(t);
  DS_CHECK(t.dim() == 4, "[clone] channels_last needs a 4-D (N, C, H, W) tensor, got shape ", to_string(t.sizes()));
  return ops::dispatch1(op, {t}, Attrs().set("memory_format", std::string(memory_format_name(format))));
}

Tensor contiguous(const Tensor& t) { return t.is_contiguous() ? t : clone(t); }

Tensor contiguous(const Tensor& t, MemoryFormat format) {
  DS_CHECK(t.defined(), "[contiguous] undefined tensor");
  return t.is_contiguous(format) ? t : clone(t, format);
}

Tensor& copy_(Tensor& dst, const Tensor& src) {
  static const auto op = ops::op_id("copy");
  DS_CHECK(dst.defined() && src.defined(), "[copy] undefined tensor");
  if (dst.device() != src.device()) {
    Tensor moved = to_device(src, dst.device());
    return ops::dispatch_inplace(op, dst, {dst, moved});
  }
  return ops::dispatch_inplace(op, dst, {dst, src});
}

Tensor& fill_(Tensor& t, const Scalar& v) {
  static const auto op = ops::op_id("fill");
  return ops::dispatch_inplace(op, t, {t}, Attrs().set("value", v));
}

}  // namespace deepseek
