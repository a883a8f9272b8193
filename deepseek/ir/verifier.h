// The verifier: checks that a graph is well-formed SSA and that its recorded metas are what
// the ops' own inference gives. Passes run it on their output in tests. Every error names the
// node (position and text form) and what is wrong, e.g.
//   [ir.verify] node #3 `%7 : f32[2] = add(%5, %6)`: input 1 (%6) is used before it is defined
#pragma once

#include "deepseek/ir/graph.h"

namespace deepseek::ir {

struct VerifyOptions {
  // Re-run each node's inference on meta tensors and compare output shapes and dtypes.
  bool check_metas = true;
};

// Throws deepseek::Error on the first problem found.
void verify(const Graph& g, const VerifyOptions& options = {});

}  // namespace deepseek::ir
