// A dense tensor's memory order, and output strides that follow an input's (how a
// channels_last or transposed input gives an output laid out the same way).
#pragma once

#include <optional>
#include <vector>

#include "deepseek/core/tensor.h"

namespace deepseek {

// The dims ordered by stride, outermost (largest) first; ties keep dim order.
std::vector<int64_t> dims_by_stride(const Strides& strides);

// Dense strides for `sizes` in the memory order of the first of `inputs` that has these sizes
// and is dense but not contiguous; nullopt when none is (the output is then row-major).
std::optional<Strides> strides_following(const std::vector<Tensor>& inputs, const Shape& sizes);

}  // namespace deepseek
