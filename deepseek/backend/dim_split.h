// A tensor seen as [outer, n, inner] around one dim: the geometry of kernels that work along a
// dim (softmax, log_softmax and its backward) on every backend. A 0-d tensor is one element.
#pragma once

#include "deepseek/core/shape.h"
#include "deepseek/core/tensor.h"

namespace deepseek {

struct DimSplit {
  int64_t outer = 1, n = 1, inner = 1;
};

inline DimSplit split_at_dim(const Tensor& t, int64_t dim, const char* op) {
  DimSplit s;
  if (t.dim() == 0) return s;
  int64_t d = wrap_dim(dim, t.dim(), op);
  s.n = t.sizes()[d];
  for (int64_t i = 0; i < d; ++i) s.outer *= t.sizes()[i];
  for (int64_t i = d + 1; i < t.dim(); ++i) s.inner *= t.sizes()[i];
  return s;
}

}  // namespace deepseek
