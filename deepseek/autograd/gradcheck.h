// gradcheck: compares every vector-Jacobian product autograd computes with central finite
// differences, in f64. gradgradcheck does the same for the backward pass itself (double
// backward through create_graph).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "deepseek/core/tensor.h"

namespace deepseek::autograd {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
};

struct GradcheckResult {
  bool ok = true;
  std::string message;  // first mismatch: input, element, numerical vs analytical
  explicit operator bool() const { return ok; }
};

using DiffFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

// inputs: f64 tensors; those with requires_grad are checked.
GradcheckResult gradcheck(const DiffFn& fn, const std::vector<Tensor>& inputs,
                          GradcheckOptions opts = {});
GradcheckResult gradgradcheck(const DiffFn& fn, const std::vector<Tensor>& inputs,
                              GradcheckOptions opts = {});

}  // namespace deepseek::autograd
