// The interpreter: re-executes a graph by dispatching each node's op in order, so autograd
// records as usual (backward through an interpreted graph works) and an active trace records
// the ops again. On `meta` inputs it propagates shapes and dtypes without data: every op's
// inference runs, no kernel does (creation ops are retargeted to meta through their "device"
// attr). Inputs must match the graph's input metas; inputs whose strides the graph addresses
// directly (Value::layout_sensitive) must also have the traced strides and offset.
#pragma once

#include <vector>

#include "deepseek/ir/graph.h"

namespace deepseek::ir {

struct RunOptions {
  // Write each Graph::mutations() value back into its input/constant tensor (with copy_), as
  // the traced program did in place.
  bool apply_mutations = true;
  // Propagate metas only: constants and creation ops are moved to the meta device.
  bool meta = false;
};

// Runs `g` on `inputs` (in g.inputs() order) and returns its outputs.
std::vector<Tensor> run(const Graph& g, const std::vector<Tensor>& inputs,
                        const RunOptions& options = {});

// Shape propagation: runs `g` on meta tensors with the given input metas (default: the
// graph's own) and returns the output metas.
std::vector<ops::TensorMeta> infer_metas(const Graph& g,
                                         const std::vector<ops::TensorMeta>& input_metas = {});

// A meta tensor with v's meta and traced layout.
Tensor meta_tensor(const Value& v);
// attrs with any "device" attr replaced by `device` (creation and to_device ops).
ops::Attrs retarget_device(const ops::Attrs& attrs, Device device);

}  // namespace deepseek::ir
