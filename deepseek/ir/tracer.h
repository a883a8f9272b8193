// The tracer: while a trace is active on a thread, the dispatcher's tracer interposer (step 3
// of dispatch) records every op call into an ir::Graph — forward ops, and backward ops too
// when backward runs inside the trace (so a joint forward+backward graph can be captured).
// Eager execution continues normally underneath: tracing runs the program once.
//
// Tracing rules (DESIGN §5):
//  - Every Tensor maps to a Value. A tensor the trace has not seen becomes a named constant
//    (its impl's name when it has one, else c<k>); tensors that share a storage with a traced
//    tensor (detach(), views made outside the dispatcher) become views of it instead.
//  - In-place calls (OpCall::inplace_self) are rewritten to the pure op; the written tensor is
//    rebound to the new Value. A write into a view becomes the pure op, then
//    as_strided_scatter into the base's Value; the base and the view are rebound, and other
//    aliases read later are re-derived from the base with as_strided. Writes that reach a
//    graph input or constant are recorded as Graph::mutations().
//  - Parameters and buffers are named graph inputs (pass them as `params`), never constants.
//  - Random ops keep the (seed, offset) they drew from the generator in their attrs, so the
//    graph replays the same numbers; a JIT that wants fresh numbers per call lifts those
//    attrs into inputs.
//  - Every node records the module scope (ir/scope.h) active when it ran.
//  - A value read on the host (Tensor::item(), to_vector(), a data-dependent shape) cannot be
//    seen by the dispatcher: the graph would bake in that one value. Code that reads values
//    should call check_not_tracing(), which raises a clear Error while tracing.
//  - detach() is not dispatched: a detached alias maps to the same Value (no stop-gradient).
//  - Known gap: in a joint trace, autograd's private copy of a tensor that an in-place op
//    overwrites (saved for backward) is made with the tracer off, so the backward graph reads
//    it as a constant. Traces without in-place ops on tensors that need grad are exact.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "deepseek/ir/graph.h"

namespace deepseek::ir {

// Whether a trace is recording on this thread.
bool is_tracing();
// Throws an Error saying that `what` (e.g. "Tensor::item()") cannot be traced, when tracing.
void check_not_tracing(const std::string& what);

struct NamedTensor {
  std::string name;  // module path for parameters and buffers ("layer1.conv.weight")
  Tensor tensor;
  InputKind kind = InputKind::parameter;
};

namespace detail {
class Tracer;
}

// Starts a trace on this thread for its lifetime (traces do not nest).
class TraceScope {
 public:
  TraceScope();
  ~TraceScope();
  TraceScope(const TraceScope&) = delete;
  TraceScope& operator=(const TraceScope&) = delete;

  // Declares `t` a graph input; ops on it (and its views) then read this input.
  Value* add_input(const Tensor& t, const std::string& name, InputKind kind = InputKind::user);
  // Ends the trace: `outputs` become the graph outputs, in-place writes to inputs and
  // constants become mutations. The scope records nothing afterwards.
  Graph finish(const std::vector<Tensor>& outputs);
  // The graph recorded so far.
  const Graph& graph() const;

 private:
  std::unique_ptr<detail::Tracer> tracer_;
};

using TracedFn = std::function<std::vector<Tensor>(const std::vector<Tensor>& inputs)>;

// Traces fn(example_inputs). Graph inputs: the example inputs (named input_names[i], or
// "input<i>"), then `params` in order.
Graph trace(const TracedFn& fn, const std::vector<Tensor>& example_inputs,
            const std::vector<NamedTensor>& params = {},
            const std::vector<std::string>& input_names = {});

}  // namespace deepseek::ir
