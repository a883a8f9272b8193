// Helpers shared by the op definitions: output metas, type promotion through the public
// `cast` op (so autograd and the tracer see promotions), and registration shorthands.
#pragma once

#include <string>
#include <vector>

#include "deepseek/ops/dispatcher.h"
#include "deepseek/ops/ops.h"

namespace deepseek::ops {

inline TensorMeta meta_of(const Tensor& t) { return {t.sizes(), t.dtype(), t.device()}; }
inline TensorMeta meta_of(const Tensor& t, DType d) { return {t.sizes(), d, t.device()}; }

inline OperandKind operand_kind(const Tensor& t) {
  if (t.impl()->wrapped_number) return OperandKind::wrapped_number;
  return t.dim() == 0 ? OperandKind::zero_dim : OperandKind::tensor;
}

// The promoted dtype of `inputs` (PyTorch's rules for 0-d tensors and wrapped numbers).
DType promoted_dtype(const std::vector<Tensor>& inputs);
// Casts every input whose dtype differs from `to` (through the dispatcher).
void cast_inputs(std::vector<Tensor>& inputs, DType to, size_t first = 0, size_t last = SIZE_MAX);
// Broadcast shape of all inputs.
Shape broadcast_all(const std::vector<Tensor>& inputs, const char* op);

// A 0-d tensor holding a C++ number, marked as a wrapped number; `like` gives the device and
// the dtype to hold it in (the scalar's own category when it is higher).
Tensor wrap_scalar(const Scalar& s, const Tensor& like);

// Requires a floating dtype (for ops like exp on integers, promotes to f32 first).
void promote_to_float(std::vector<Tensor>& inputs);

inline std::string dtype_attr(DType d) { return dtype_name(d); }

// Shorthand for defining an op: fills the common fields and returns the def for the rest.
OpDef& define_op(const std::string& name, OpKind kind, int num_inputs, int num_outputs = 1);

// Output-layout rule (registry.h) of ops that keep channels_last (conv, batch norm, pooling):
// their 4-D outputs are channels_last when any of `inputs` is (suggest_memory_format), or when
// attr memory_format says so (backward ops whose inputs do not show the forward's layout).
void keep_channels_last(OpDef& d, std::vector<int> inputs);
// The layout such ops read their 4-D input in: `t` when it is channels_last or row-major,
// else a row-major copy.
Tensor dense_nchw_or_nhwc(const Tensor& t);
// "memory_format" attr value naming t's suggested layout (for the ops above).
std::string memory_format_attr(const Tensor& t);

// Reduces a gradient of a broadcast result back to an input's meta (shape and dtype).
Tensor reduce_grad_to(const Tensor& grad, const TensorMeta& meta);

}  // namespace deepseek::ops
