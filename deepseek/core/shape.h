// Shapes and strides (in elements), and the small helpers every op needs: element counts,
// contiguous strides, broadcasting and dim wrapping with errors that name the op.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace deepseek {

using Shape = std::vector<int64_t>;
using Strides = std::vector<int64_t>;

int64_t numel(const Shape& s);
Strides contiguous_strides(const Shape& s);
// Strides of a dense 4-D (N, C, H, W) tensor stored as (N, H, W, C): PyTorch's channels_last.
Strides channels_last_strides(const Shape& s);
std::string to_string(const Shape& s);

// Broadcast two shapes NumPy-style; throws naming `op` when they do not broadcast.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Wrap a possibly negative dim into [0, ndim); throws naming `op` when out of range.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

// Normalize a list of dims (empty = all dims) into a sorted bitmask-like bool vector.
std::vector<bool> dims_mask(const std::vector<int64_t>& dims, int64_t ndim, const char* op);

}  // namespace deepseek
