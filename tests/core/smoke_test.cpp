#include <gtest/gtest.h>

#include "deepseek/ops/ops.h"

using namespace deepseek;

TEST(Smoke, AddAndBackward) {
  Tensor a = tensor({1, 2, 3}).requires_grad_();
  Tensor b = tensor({4, 5, 6}).requires_grad_();
  Tensor c = (a * b + a).sum();
  EXPECT_DOUBLE_EQ(c.item<double>(), 4 + 10 + 18 + 6);
  c.backward();
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{5, 6, 7}));
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{1, 2, 3}));
}
