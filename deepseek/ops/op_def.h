// One definition per op: name, traits, shape/dtype inference, backward rule (written with
// public ops, so double-backward and tracing of backward come for free) and per-device
// kernels. Everything that reasons about ops — autograd, the tracer, the JIT, pruning,
// quantization, the bad-input tests — reads these definitions.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "deepseek/core/tensor.h"
#include "deepseek/ops/attrs.h"

namespace deepseek::ops {

using OpId = uint32_t;

enum class OpKind : uint8_t {
  creation,     // no tensor inputs (zeros, arange, rand)
  elementwise,  // output element i depends on input element i (after broadcasting)
  reduction,    // reduces dims (sum, softmax's reductions)
  view,         // output aliases input 0 (reshape of contiguous, permute, slice)
  opaque,       // anything else (matmul, conv, gather)
};
const char* op_kind_name(OpKind k);

// Which input dims carry "channels" into which output dims. Pruning reads it to find coupled
// channels: e.g. conv2d maps weight dim 0 to output dim 1, and input dim 1 to weight dim 1.
struct ChannelRule {
  struct Link {
    int input;       // input index
    int input_dim;   // dim of that input (negative counts from the end)
    int output_dim;  // dim of output 0 that it maps to (or -1000 when it is consumed)
  };
  std::vector<Link> links;
  bool passthrough = false;  // elementwise: every dim maps to the same dim of the output
};

struct TensorMeta {
  Shape sizes;
  DType dtype = DType::f32;
  Device device;
};

struct BackwardContext {
  const std::vector<Tensor>& inputs;   // saved inputs (undefined where not saved)
  const std::vector<Tensor>& outputs;  // saved outputs (undefined where not saved)
  const std::vector<Tensor>& grads;    // gradient of each output (zeros where none flowed,
                                       // undefined past the first if !materialize_grads)
  const std::vector<TensorMeta>& input_meta;
  const Attrs& attrs;
  const std::vector<bool>& needs_grad;  // per input
};

using InferFn = std::function<std::vector<TensorMeta>(std::vector<Tensor>& inputs, const Attrs&)>;
using ViewFn = std::function<std::vector<Tensor>(const std::vector<Tensor>& inputs, const Attrs&)>;
using BackwardFn = std::function<std::vector<Tensor>(const BackwardContext&)>;
using KernelFn = std::function<void(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs,
                                    const Attrs& attrs)>;
using CostFn = std::function<double(const std::vector<TensorMeta>& inputs,
                                    const std::vector<TensorMeta>& outputs, const Attrs&)>;
// Memory format of output `out` of a non-elementwise op (conv, norms, pooling), from its
// inputs (after infer) and attrs. Without one, outputs are row-major; elementwise ops follow
// their inputs' stride order (dispatcher).
using OutputLayoutFn = std::function<MemoryFormat(const std::vector<Tensor>& inputs, const Attrs&, size_t out)>;

struct OpDef {
  OpId id = 0;
  std::string name;
  OpKind kind = OpKind::opaque;
  int num_inputs = -1;  // -1: variadic
  int num_outputs = 1;
  bool deterministic = true;     // false: its kernels may differ run to run (atomics)
  bool random = false;           // takes (seed, offset) attrs from the device generator
  bool differentiable = true;    // false: outputs never require grad (comparisons, argmax)
  bool casts_to_self = false;    // in-place form casts any dtype into self (copy_)
  // true: outputs that got no gradient reach backward as zeros; false: outputs after the
  // first (statistics such as a norm's mean) reach it as undefined tensors, which backward
  // handles (PyTorch's ctx.set_materialize_grads(False)): batch_norm then takes its fused
  // path, and no zeros are launched for statistics nobody differentiates.
  bool materialize_grads = true;
  std::vector<int> nondiff_inputs;  // inputs never differentiated (indices, masks)
  // Which inputs/outputs backward reads; only those are saved (memory).
  std::vector<int> save_inputs;   // default (empty + save_all_inputs) = all
  std::vector<int> save_outputs;
  bool save_all_inputs = true;

  InferFn infer;        // checks inputs and attrs, may promote inputs, returns output metas
  ViewFn make_view;     // for kind == view: builds the aliasing outputs directly
  BackwardFn backward;  // null: not differentiable
  CostFn flops;         // floating-point operations (null: numel of output for elementwise)
  OutputLayoutFn output_layout;  // null: row-major outputs (4-D outputs only consult it)
  ChannelRule channels;
  std::array<KernelFn, 3> kernels;  // by DeviceType: cpu, cuda, meta (meta needs none)

  bool has_kernel(DeviceType d) const { return static_cast<bool>(kernels[static_cast<int>(d)]); }
  // Bytes moved (inputs read + outputs written); the default memory cost.
  static double bytes(const std::vector<TensorMeta>& in, const std::vector<TensorMeta>& out);
};

}  // namespace deepseek::ops
