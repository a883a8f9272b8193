#include "deepseek/ops/defs/common.h"

namespace deepseek::ops {

DType promoted_dtype(const std::vector<Tensor>& inputs) {
  std::vector<PromotionOperand> ops;
  ops.reserve(inputs.size());
  for (auto& t : inputs)
    if (t.defined()) ops.push_back({t.dtype(), operand_kind(t)});
  DS_CHECK(!ops.empty(), "no tensor inputs to promote");
  return result_type(ops.data(), static_cast<int>(ops.size()));
}

void cast_inputs(std::vector<Tensor>& inputs, DType to, size_t first, size_t last) {
  for (size_t i = first; i < inputs.size() && i < last; ++i)
    if (inputs[i].defined() && inputs[i].dtype() != to) inputs[i] = cast(inputs[i], to);
}

Shape broadcast_all(const std::vector<Tensor>& inputs, const char* op) {
  Shape s;
  bool first = true;
  for (auto& t : inputs) {
    if (!t.defined()) continue;
    s = first ? t.sizes() : broadcast_shapes(s, t.sizes(), op);
    first = false;
  }
  return s;
}

Tensor wrap_scalar(const Scalar& s, const Tensor& like) {
  DType d = s.dtype();  // b8, i64 or f64: keeps the value exact until promotion decides
  if (is_floating(like.dtype()) && s.dtype() != DType::b8) d = like.dtype();
  else if (is_integral(like.dtype()) && s.dtype() == DType::i64) d = like.dtype();
  Tensor t = full({}, s, TensorOptions(d, like.device()));
  t.impl()->wrapped_number = true;
  return t;
}

void promote_to_float(std::vector<Tensor>& inputs) {
  for (auto& t : inputs)
    if (t.defined() && !is_floating(t.dtype())) t = cast(t, DType::f32);
}

OpDef& define_op(const std::string& name, OpKind kind, int num_inputs, int num_outputs) {
  OpDef& d = Registry::get().def(name);
  d.kind = kind;
  d.num_inputs = num_inputs;
  d.num_outputs = num_outputs;
  if (kind == OpKind::elementwise) d.channels.passthrough = true;
  return d;
}

void keep_channels_last(OpDef& d, std::vector<int> inputs) {
  d.output_layout = [inputs](const std::vector<Tensor>& in, const Attrs& a, size_t) {
    for (int i : inputs)
      if (i < static_cast<int>(in.size()) && in[i].defined() &&
          suggest_memory_format(in[i]) == MemoryFormat::channels_last)
        return MemoryFormat::channels_last;
    return memory_format_from_name(a.get<std::string>("memory_format", "contiguous"));
  };
}

Tensor dense_nchw_or_nhwc(const Tensor& t) {
  return suggest_memory_format(t) == MemoryFormat::channels_last || t.is_contiguous() ? t : contiguous(t);
}

std::string memory_format_attr(const Tensor& t) { return memory_format_name(suggest_memory_format(t)); }

Tensor reduce_grad_to(const Tensor& grad, const TensorMeta& meta) {
  if (!grad.defined()) return grad;
  Tensor g = grad.sizes() == meta.sizes ? grad : sum_to(grad, meta.sizes);
  if (g.dtype() != meta.dtype && is_floating(meta.dtype)) g = cast(g, meta.dtype);
  return g;
}

}  // namespace deepseek::ops
