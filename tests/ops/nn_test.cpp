// embedding and dropout: forward vs PyTorch (tests/fixtures/nn.json), the Philox mask
// convention shared with `rand`, reproducibility, mask statistics, gradcheck, bad inputs.
#include <gtest/gtest.h>

#include "deepseek/autograd/engine.h"
#include "deepseek/autograd/grad_mode.h"
#include "tests/support/test_util.h"

using namespace deepseek;
using namespace deepseek::testing;

namespace {
Tensor F(const char* c, const char* k) { return nn_fixture(c, k); }
}  // namespace

TEST(Embedding, MatchesTorchWithPaddingIdx) {
  Tensor w = F("embedding", "w").requires_grad_();
  Tensor idx = F("embedding", "idx");
  Tensor e = embedding(w, idx, 1);
  EXPECT_TRUE(close(e, F("embedding", "out")));
  sum(mul(e, F("embedding", "gout"))).backward();
  EXPECT_TRUE(close(w.grad(), F("embedding", "gw")));  // padding row gets no gradient
}

TEST(Embedding, Gradcheck) {
  Tensor w = grad_input({6, 3});
  Tensor idx = tensor_i64({0, 5, 2, 2, 1, 0}, {2, 3});
  EXPECT_TRUE(grad_ok([&](auto& in) { return std::vector<Tensor>{embedding(in[0], idx)}; }, {w}));
  EXPECT_TRUE(gradgrad_ok(
      [&](auto& in) { return std::vector<Tensor>{mul(embedding(in[0], idx), embedding(in[0], idx))}; },
      {w}));
}

TEST(Embedding, I32IndicesAndBadInputs) {
  Tensor w = randn({4, 2});
  Tensor i32 = cast(tensor_i64({3, 0}), DType::i32);
  EXPECT_TRUE(equal(embedding(w, i32), embedding(w, tensor_i64({3, 0}))));
  EXPECT_OP_ERROR("embedding", embedding(w, tensor_i64({4})));
  EXPECT_OP_ERROR("embedding", embedding(w, tensor_i64({-1})));
  EXPECT_OP_ERROR("embedding", embedding(w, tensor({1.0})));
  EXPECT_OP_ERROR("embedding", embedding(randn({4}), tensor_i64({1})));
  EXPECT_OP_ERROR("embedding", embedding(w, tensor_i64({1}), 7));
}

TEST(Dropout, IdentityCasesAndZeros) {
  Tensor x = randn({3, 5});
  EXPECT_TRUE(dropout(x, 0.5, false).is_same(x));
  EXPECT_TRUE(dropout(x, 0.0, true).is_same(x));
  EXPECT_TRUE(equal(dropout(x, 1.0, true), zeros({3, 5})));
}

// Element i is kept iff Philox::uniform(block(seed, offset + i/4)[i % 4]) >= (float)p — the
// draw `rand` makes for element i from the same generator state.
TEST(Dropout, MaskIsTheRandKernelsPhiloxDraw) {
  const double p = 0.3;
  Tensor x = add(rand({7, 13}), 1.0);  // nonzero everywhere
  manual_seed(42);
  Tensor u = rand({7, 13});
  manual_seed(42);
  Tensor y = dropout(x, p);
  auto uv = u.to_vector<float>(), yv = y.to_vector<float>(), xv = x.to_vector<float>();
  const float scale = static_cast<float>(1.0 / (1.0 - p));
  for (size_t i = 0; i < uv.size(); ++i) {
    bool keep = uv[i] >= static_cast<float>(p);
    ASSERT_EQ(yv[i] != 0.0f, keep) << "element " << i;
    if (keep) ASSERT_EQ(yv[i], xv[i] * scale);
  }
  // The same seed reproduces the mask exactly; the next call draws new counters.
  manual_seed(42);
  Tensor y2 = dropout(x, p);
  EXPECT_TRUE(equal(y, y2));
  Tensor y3 = dropout(x, p);
  EXPECT_FALSE(equal(y2, y3));
}

TEST(Dropout, MaskStatistics) {
  manual_seed(7);
  const int64_t n = 200000;
  for (double p : {0.1, 0.5, 0.9}) {
    Tensor y = dropout(ones({n}), p);
    double kept = sum(cast(ne(y, 0.0), DType::f64)).item<double>() / n;
    double sd = std::sqrt(p * (1 - p) / n);
    EXPECT_NEAR(kept, 1 - p, 5 * sd) << "p=" << p;
    EXPECT_NEAR(mean(y).item<double>(), 1.0, 10 * sd / (1 - p)) << "p=" << p;  // unbiased scaling
  }
}

TEST(Dropout, GradcheckWithFixedSeed) {
  Tensor x = grad_input({4, 5});
  // Each evaluation reseeds, so finite differences see the same mask.
  EXPECT_TRUE(grad_ok([](auto& in) {
    manual_seed(3);
    return std::vector<Tensor>{dropout(in[0], 0.4)};
  }, {x}));
  // Backward applies the forward's mask.
  manual_seed(5);
  Tensor y = dropout(x, 0.4);
  sum(y).backward();
  auto g = x.grad().to_vector<double>(), yv = y.to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) EXPECT_EQ(g[i] != 0, yv[i] != 0);
}

TEST(Dropout, NonContiguousAndBadInputs) {
  Tensor x = transpose(add(rand({4, 6}), 1.0), 0, 1);
  manual_seed(9);
  Tensor a = dropout(x, 0.5);
  manual_seed(9);
  Tensor b = dropout(contiguous(x), 0.5);
  EXPECT_TRUE(equal(a, b));
  EXPECT_OP_ERROR("dropout", dropout(x, 1.5));
  EXPECT_OP_ERROR("dropout", dropout(x, -0.1));
  EXPECT_OP_ERROR("dropout", dropout(arange(4), 0.5));
}
