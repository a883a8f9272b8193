#include "deepseek/core/memory_order.h"

#include <algorithm>

namespace deepseek {

std::vector<int64_t> dims_by_stride(const Strides& strides) {
  std::vector<int64_t> order(strides.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return strides[a] > strides[b]; });
  return order;
}

std::optional<Strides> strides_following(const std::vector<Tensor>& inputs, const Shape& sizes) {
  for (const Tensor& in : inputs) {
    if (!in.defined() || in.sizes() != sizes || in.is_contiguous() || !in.is_non_overlapping_and_dense()) continue;
    const std::vector<int64_t> order = dims_by_stride(in.strides());
    Strides st(sizes.size());
    int64_t acc = 1;
    for (int64_t k = static_cast<int64_t>(order.size()) - 1; k >= 0; --k) {
      st[order[k]] = acc;
      acc *= std::max<int64_t>(sizes[order[k]], 1);
    }
    return st;
  }
  return std::nullopt;
}

}  // namespace deepseek
