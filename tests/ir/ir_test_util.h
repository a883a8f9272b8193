// Helpers shared by the IR tests: bitwise tensor comparison.
#pragma once

#include <gtest/gtest.h>

#include <cstring>

#include "deepseek/ops/ops.h"

namespace deepseek::ir::testing {

inline ::testing::AssertionResult bits_equal(const Tensor& a, const Tensor& b) {
  if (a.defined() != b.defined()) return ::testing::AssertionFailure() << "one tensor is undefined";
  if (!a.defined()) return ::testing::AssertionSuccess();
  if (a.sizes() != b.sizes() || a.dtype() != b.dtype())
    return ::testing::AssertionFailure() << a.to_string() << " vs " << b.to_string();
  Tensor x = a.detach().contiguous(), y = b.detach().contiguous();
  const auto* p = static_cast<const unsigned char*>(x.raw_data());
  const auto* q = static_cast<const unsigned char*>(y.raw_data());
  if (x.nbytes() && std::memcmp(p, q, x.nbytes()) != 0) {
    auto u = x.to_vector<double>(), v = y.to_vector<double>();
    for (size_t i = 0; i < u.size(); ++i)
      if (std::memcmp(p + i * x.element_size(), q + i * x.element_size(), x.element_size()))
        return ::testing::AssertionFailure()
               << "element " << i << " differs: " << u[i] << " vs " << v[i];
  }
  return ::testing::AssertionSuccess();
}

}  // namespace deepseek::ir::testing
