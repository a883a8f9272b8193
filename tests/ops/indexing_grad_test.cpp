// Gradients of the shape, indexing, sort and extra reduction ops against finite differences
// in f64 (gradcheck), and second derivatives (gradgradcheck) for rules whose backward is
// itself one of these ops.
#include <cmath>

#include "tests/support/test_util.h"

using namespace deepseek;
using namespace deepseek::testing;
using autograd::gradgradcheck;

namespace {
using V = std::vector<Tensor>;

// The squared output: second derivatives of a linear op are zero, so gradgradcheck needs a
// nonlinearity around it to exercise the op's backward rule being differentiated.
Tensor sq(const Tensor& y) { return mul(y, y); }

Tensor strided(const Tensor& x) {
  return transpose(contiguous(transpose(x.detach(), 0, -1)), 0, -1).requires_grad_(true);
}
}  // namespace

TEST(IndexingGrad, CatStackSplitChunk) {
  Tensor a = grad_input({2, 3}), b = grad_input({2, 2}), c = grad_input({2, 3});
  EXPECT_TRUE(grad_ok([](const V& v) { return V{cat({v[0], v[1]}, 1)}; }, {a, b}));
  EXPECT_TRUE(grad_ok([](const V& v) { return V{cat({v[0], v[1]}, 0)}; }, {a, c}));
  EXPECT_TRUE(grad_ok([](const V& v) { return V{stack({v[0], v[1]}, -1)}; }, {a, c}));
  EXPECT_TRUE(grad_ok([](const V& v) { return split(v[0], 2, 1); }, {a}));
  EXPECT_TRUE(grad_ok([](const V& v) { return chunk(v[0], 2, 0); }, {c}));
  EXPECT_TRUE(grad_ok([](const V& v) { return split_with_sizes(v[0], {2, 1}, 1); }, {a}));
  EXPECT_TRUE(grad_ok([](const V& v) { return unbind(v[0], 1); }, {a}));
  EXPECT_TRUE(gradgradcheck([](const V& v) { auto u = unbind(v[0], 0); return V{mul(u[0], u[1])}; }, {a}));
  // A permuted input (attention's head-major q, k, v): the gradient keeps the input's memory
  // order, so it reaches the unpermuted base as a contiguous tensor.
  Tensor packed = grad_input({2, 3, 4, 5});
  auto head_major = [](const V& v) { return unbind(permute(v[0], {2, 0, 3, 1}), 1); };
  EXPECT_TRUE(grad_ok(head_major, {packed}));
  EXPECT_TRUE(gradgradcheck([&](const V& v) { auto u = head_major(v); return V{mul(u[0], u[1])}; }, {packed}));
  {
    Tensor base = randn({2, 3, 4, 5}).requires_grad_(true);
    auto u = unbind(permute(base, {2, 0, 3, 1}), 1);
    Tensor g;
    base.register_hook([&](const Tensor& grad) { g = grad; return grad; });
    sum(add(mul(u[0], 2.0), u[1])).backward();
    EXPECT_TRUE(g.is_contiguous());
  }
  auto parts = unbind(a.detach(), -1);
  ASSERT_EQ(parts.size(), 3u);
  for (int64_t i = 0; i < 3; ++i) EXPECT_TRUE(close(parts[i], select(a.detach(), 1, i), 0, 0));
  EXPECT_THROW(unbind(full({}, 1.0)), Error);
  EXPECT_TRUE(gradgradcheck([](const V& v) { return V{sq(cat({v[0], v[1]}, 1))}; }, {a, b}));
}

TEST(IndexingGrad, PadAllModes) {
  Tensor x = grad_input({2, 3, 4});
  for (const char* m : {"constant", "reflect", "replicate", "circular"}) {
    std::string mode = m;
    EXPECT_TRUE(grad_ok([mode](const V& v) { return V{pad(v[0], {2, 1, 1, 2}, mode, 0.3)}; }, {x})) << m;
    EXPECT_TRUE(grad_ok([mode](const V& v) { return V{pad(v[0], {3, 3}, mode)}; }, {x})) << m;
  }
  EXPECT_TRUE(grad_ok([](const V& v) { return V{pad(v[0], {-1, 2, 0, -1})}; }, {x}));
  EXPECT_TRUE(grad_ok([](const V& v) { return V{pad(v[0], {1, 2}, "reflect")}; }, {strided(x)}));
  EXPECT_TRUE(gradgradcheck([](const V& v) { return V{sq(pad(v[0], {2, 1, 1, 2}, "reflect"))}; }, {x}));
}

TEST(IndexingGrad, FlipRollRepeatTri) {
  Tensor x = grad_input({3, 4, 2});
  EXPECT_TRUE(grad_ok([](const V& v) { return V{flip(v[0], {0, -1})}; }, {x}));
  EXPECT_TRUE(grad_ok([](const V& v) { return V{roll(v[0], {2, -1}, {1, 0})}; }, {x}));
  EXPECT_TRUE(grad_ok([](const V& v) { return V{roll(v[0], {5}, {})}; }, {x}));
  EXPECT_TRUE(grad_ok([](const V& v) { return V{repeat(v[0], {2, 1, 2, 3})}; }, {x}));
  Tensor m = grad_input({2, 4, 3});
  EXPECT_TRUE(grad_ok([](const V& v) { return V{tril(v[0], -1)}; }, {m}));
  EXPECT_TRUE(grad_ok([](const V& v) { return V{triu(v[0], 1)}; }, {strided(m)}));
}

TEST(IndexingGrad, IndexSelectAddMasked) {
  Tensor x = grad_input({4, 5}), src = grad_input({3, 5});
  Tensor idx = tensor_i64({3, 0, 3});
  EXPECT_TRUE(grad_ok([idx](const V& v) { return V{index_select(v[0], 1, idx)}; }, {x}));
  EXPECT_TRUE(grad_ok([idx](const V& v) { return V{index_select(v[0], 0, idx)}; }, {strided(x)}));
  EXPECT_TRUE(grad_ok([idx](const V& v) { return V{index_add(v[0], 0, idx, v[1])}; }, {x, src}));
  Tensor mask = gt(rand({4, 5}), 0.5);
  Tensor row_mask = tensor({1, 0, 1, 1, 0}, {5}, {DType::b8});
  EXPECT_TRUE(grad_ok([mask](const V& v) { return V{masked_fill(v[0], mask, 2.0)}; }, {x}));
  EXPECT_TRUE(grad_ok([row_mask](const V& v) { return V{masked_fill(v[0], row_mask, 2.0)}; }, {x}));
  EXPECT_TRUE(grad_ok([mask](const V& v) { return V{masked_select(v[0], mask)}; }, {x}));
  EXPECT_TRUE(grad_ok([row_mask](const V& v) { return V{masked_select(v[0], row_mask)}; }, {x}));
  EXPECT_TRUE(gradgradcheck([idx](const V& v) { return V{sq(index_add(v[0], 0, idx, v[1]))}; }, {x, src}));
  EXPECT_TRUE(gradgradcheck([mask](const V& v) { return V{sq(masked_select(v[0], mask))}; }, {x}));
}

TEST(IndexingGrad, AdvancedIndexAndIndexPut) {
  Tensor x = grad_input({4, 5, 3});
  Tensor i0 = tensor_i64({0, 3, 0, -1}, {2, 2}), i1 = tensor_i64({4, 1});
  EXPECT_TRUE(grad_ok([=](const V& v) { return V{index(v[0], {i0, i1})}; }, {x}));
  EXPECT_TRUE(grad_ok([=](const V& v) { return V{index(v[0], {i0})}; }, {strided(x)}));
  Tensor vals = grad_input({2, 2, 3}), row = grad_input({3});
  EXPECT_TRUE(grad_ok([=](const V& v) { return V{index_put(v[0], {i0, i1}, v[1], true)}; }, {x, vals}));
  Tensor u0 = tensor_i64({0, 1, 2, 3}, {2, 2});  // no duplicates: plain writes are well defined
  EXPECT_TRUE(grad_ok([=](const V& v) { return V{index_put(v[0], {u0, i1}, v[1])}; }, {x, vals}));
  EXPECT_TRUE(grad_ok([=](const V& v) { return V{index_put(v[0], {u0, i1}, v[1])}; }, {x, row}));
  EXPECT_TRUE(gradgradcheck([=](const V& v) { return V{sq(index(v[0], {i0, i1}))}; }, {x}));
}

TEST(IndexingGrad, SortTopk) {
  Tensor x = grad_input({3, 6});
  EXPECT_TRUE(grad_ok([](const V& v) { return V{std::get<0>(sort(v[0], 1))}; }, {x}));
  EXPECT_TRUE(grad_ok([](const V& v) { return V{std::get<0>(sort(v[0], 0, true))}; }, {strided(x)}));
  EXPECT_TRUE(grad_ok([](const V& v) { return V{std::get<0>(topk(v[0], 2, 1))}; }, {x}));
  EXPECT_TRUE(grad_ok([](const V& v) { return V{std::get<0>(topk(v[0], 2, 0, false))}; }, {x}));
  EXPECT_TRUE(gradgradcheck([](const V& v) { return V{sq(std::get<0>(topk(v[0], 3, 1)))}; }, {x}));
}

TEST(IndexingGrad, VarStdNormLogsumexpCumsum) {
  Tensor x = grad_input({3, 4, 5});
  EXPECT_TRUE(grad_ok([](const V& v) { return V{var(v[0], {1})}; }, {x}));
  EXPECT_TRUE(grad_ok([](const V& v) { return V{var(v[0], {}, 0)}; }, {x}));
  EXPECT_TRUE(grad_ok([](const V& v) { return V{deepseek::std(v[0], {0, 2}, 1, true)}; }, {x}));
  for (double p : std::vector<double>{2.0, 1.0, 3.0, 0.5, INFINITY, -INFINITY}) {
    EXPECT_TRUE(grad_ok([p](const V& v) { return V{norm(v[0], p, {1})}; }, {x})) << "p=" << p;
    EXPECT_TRUE(grad_ok([p](const V& v) { return V{norm(v[0], p, {0, 2}, true)}; }, {strided(x)})) << "p=" << p;
  }
  EXPECT_TRUE(grad_ok([](const V& v) { return V{norm(v[0])}; }, {x}));
  EXPECT_TRUE(grad_ok([](const V& v) { return V{logsumexp(v[0], {2})}; }, {x}));
  EXPECT_TRUE(grad_ok([](const V& v) { return V{logsumexp(v[0], {0, 1}, true)}; }, {strided(x)}));
  EXPECT_TRUE(grad_ok([](const V& v) { return V{cumsum(v[0], 1)}; }, {x}));
  EXPECT_TRUE(grad_ok([](const V& v) { return V{cumsum(v[0], -1)}; }, {strided(x)}));
  EXPECT_TRUE(gradgradcheck([](const V& v) { return V{norm(v[0], 2, {1})}; }, {x}));
  EXPECT_TRUE(gradgradcheck([](const V& v) { return V{logsumexp(v[0], {2})}; }, {x}));
  EXPECT_TRUE(gradgradcheck([](const V& v) { return V{var(v[0], {1})}; }, {x}));
  EXPECT_TRUE(gradgradcheck([](const V& v) { return V{sq(cumsum(v[0], 1))}; }, {x}));
}

TEST(IndexingGrad, NormIsZeroAtTheOrigin) {
  Tensor x = zeros({4}, {DType::f64}).requires_grad_(true);
  norm(x).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 0, 0, 0}));
}
