// Runs a CPU kernel written for row-major tensors on any dense layout (channels_last): inputs
// that are not row-major are copied to row-major, outputs that are not are computed into
// row-major buffers and copied over. These are copies — acceptable on the CPU for now; the
// CUDA kernels of the same ops work on channels_last memory directly.
#pragma once

#include <vector>

#include "deepseek/ops/ops.h"
#include "deepseek/ops/raw_ops.h"

namespace deepseek::cpu {

inline ops::KernelFn row_major_kernel(ops::KernelFn k) {
  return [k = std::move(k)](const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
    bool all = true;
    for (auto& t : in) all = all && (!t.defined() || t.is_contiguous());
    for (auto& t : out) all = all && t.is_contiguous();
    if (all) return k(in, out, a);
    ops::NoInterposers raw;
    std::vector<Tensor> rin, rout;
    for (auto& t : in) rin.push_back(t.defined() ? contiguous(t) : t);
    for (auto& t : out) rout.push_back(t.is_contiguous() ? t : Tensor::empty(t.sizes(), t.dtype(), t.device()));
    k(rin, rout, a);
    for (size_t i = 0; i < out.size(); ++i)
      if (!rout[i].is_same(out[i])) copy_(out[i], rout[i]);
  };
}

}  // namespace deepseek::cpu
