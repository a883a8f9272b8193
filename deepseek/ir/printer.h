// The text form of a graph, for people (debugging, docs, test failures):
//   graph {
//     %0 : f32[2, 3] = input "x"
//     %1 : f32[3] = param "fc.bias"
//     %2 : f32[] = constant "c0" (2)
//     %3 : f32[2, 3] = add(%0, %1) {alpha=2}  # fc
//     return (%3)
//     mutate %1 <- %5
//   }
// Devices other than cpu are printed after the shape (f32[2, 3]@meta).
#pragma once

#include <string>

#include "deepseek/ir/graph.h"

namespace deepseek::ir {

std::string to_text(const Graph& g);
std::string type_str(const ops::TensorMeta& m);  // "f32[2, 3]"
std::string node_str(const Node& n);             // one line, without the leading indent

}  // namespace deepseek::ir
