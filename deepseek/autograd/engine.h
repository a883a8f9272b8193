// Running the backward graph: backward() accumulates into leaves' .grad; grad() returns the
// gradients of chosen inputs without touching .grad. Nodes run in reverse topological order
// once all gradients for them have arrived; gradients for one node are summed first.
#pragma once

#include <functional>
#include <vector>

#include "deepseek/core/tensor.h"

namespace deepseek::autograd {

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs = {},
              bool retain_graph = false, bool create_graph = false);

// Gradients of `outputs` w.r.t. `inputs`. An input the outputs do not depend on gives an
// undefined tensor when allow_unused, an error otherwise.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, bool retain_graph = false,
                         bool create_graph = false, bool allow_unused = false);

// Runs `callback` once when the current backward pass finishes (data-parallel bucketing and
// PowerSGD flush their work here). Only valid while a backward pass is running.
void queue_callback(std::function<void()> callback);

}  // namespace deepseek::autograd
