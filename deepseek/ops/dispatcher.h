// The one way through: every op call enters dispatch(). It runs, in this fixed order,
//   1. the autocast interposer (may insert casts through the public `cast` op),
//   2. the op's own inference: checks, type promotion, output shapes and dtypes,
//   3. the tracer interposer (records an ir::Node when a trace is active),
//   4. the autograd interposer (saves what backward needs and links the graph),
//   5. the kernel registered for the device (none on meta; views build aliases instead).
// Interposers are registered from above (autograd/, ir/, autocast) at start-up; the
// dispatcher knows none of them. Each is skipped while its thread-local switch is off, so an
// interposer's own op calls do not re-enter it.
#pragma once

#include <vector>

#include "deepseek/ops/registry.h"

namespace deepseek::ops {

struct OpCall {
  const OpDef* def;
  std::vector<Tensor> inputs;
  Attrs attrs;
  std::vector<TensorMeta> out_meta;  // filled in step 2
  Tensor inplace_self;               // defined for in-place calls: the tensor written
};

// Continues the chain below the current interposer.
class Next {
 public:
  Next(int slot) : slot_(slot) {}
  std::vector<Tensor> operator()(OpCall& call) const;

 private:
  int slot_;
};

enum class Slot : int { autocast = 0, tracer = 1, autograd = 2 };
inline constexpr int kNumSlots = 3;

class Interposer {
 public:
  virtual ~Interposer() = default;
  // Fast check, so an idle interposer costs one virtual call.
  virtual bool active(const OpCall& call) const = 0;
  virtual std::vector<Tensor> intercept(OpCall& call, const Next& next) = 0;
};

void set_interposer(Slot slot, Interposer* interposer);

// While alive, the interposer in `slot` is skipped on this thread.
class InterposerOff {
 public:
  explicit InterposerOff(Slot slot);
  ~InterposerOff();
  InterposerOff(const InterposerOff&) = delete;
  InterposerOff& operator=(const InterposerOff&) = delete;

 private:
  int slot_;
  bool previous_;
};

std::vector<Tensor> dispatch(OpId op, std::vector<Tensor> inputs, Attrs attrs = {});
Tensor dispatch1(OpId op, std::vector<Tensor> inputs, Attrs attrs = {});
// Runs the functional op `op` and writes its result into self (self's dtype and shape are
// kept; the result must broadcast to self's shape and cast to its dtype). inputs[0] is self.
Tensor& dispatch_inplace(OpId op, Tensor& self, std::vector<Tensor> inputs, Attrs attrs = {});

// Step 5 alone: allocate outputs and run the kernel (used by interpreters and tests).
std::vector<Tensor> run_kernel(OpCall& call);

// Looks an op up by name once and caches the id: `static const OpId id = op_id("add");`.
inline OpId op_id(const char* name) { return Registry::get().id(name); }

}  // namespace deepseek::ops
