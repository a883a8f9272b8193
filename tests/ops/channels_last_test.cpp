// channels_last (NHWC) memory format: the API (MemoryFormat, contiguous(format),
// is_contiguous(format), suggest_memory_format), the layout of conv / batch_norm / pooling
// outputs (PyTorch's rule: a conv is channels_last when its input or weight is; norms and
// pools follow their input), and that NHWC inputs give the NCHW values and gradients.
#include "deepseek/ops/linalg_backward.h"
#include "tests/support/test_util.h"

using namespace deepseek;
using namespace deepseek::testing;

namespace {

constexpr auto kCL = MemoryFormat::channels_last;

bool is_cl(const Tensor& t) { return suggest_memory_format(t) == kCL; }

TEST(ChannelsLast, StridesAndPredicates) {
  EXPECT_EQ(channels_last_strides({2, 3, 4, 5}), (Strides{60, 1, 15, 3}));
  Tensor x = randn({2, 3, 4, 5});
  EXPECT_TRUE(x.is_contiguous(MemoryFormat::contiguous));
  EXPECT_FALSE(x.is_contiguous(kCL));
  EXPECT_EQ(suggest_memory_format(x), MemoryFormat::contiguous);
  Tensor y = x.contiguous(kCL);
  EXPECT_EQ(y.strides(), (Strides{60, 1, 15, 3}));
  EXPECT_TRUE(y.is_contiguous(kCL));
  EXPECT_FALSE(y.is_contiguous());
  EXPECT_TRUE(is_cl(y));
  EXPECT_TRUE(y.contiguous(kCL).is_same(y));  // already in the format: no copy
  EXPECT_TRUE(close(y, x, 0, 0));
  EXPECT_TRUE(close(y.contiguous(), x, 0, 0));
  EXPECT_TRUE(y.contiguous().is_contiguous());
  // the permuted view of an NHWC buffer is channels_last
  Tensor nhwc = randn({2, 4, 5, 3});
  EXPECT_TRUE(nhwc.permute({0, 3, 1, 2}).is_contiguous(kCL));
  // size-1 dims: both formats at once, and suggest says row-major
  Tensor one = randn({2, 3, 1, 1});
  EXPECT_TRUE(one.is_contiguous(kCL));
  EXPECT_EQ(suggest_memory_format(one), MemoryFormat::contiguous);
  EXPECT_TRUE(Tensor::empty({2, 3, 4, 5}, DType::f32, kCPU, kCL).is_contiguous(kCL));
  // not 4-D
  EXPECT_FALSE(randn({3, 4}).is_contiguous(kCL));
  EXPECT_THROW(randn({3, 4}).contiguous(kCL), Error);
  EXPECT_EQ(memory_format_from_name(memory_format_name(kCL)), kCL);
  EXPECT_THROW(memory_format_from_name("nhwc"), Error);
}

TEST(ChannelsLast, ContiguousKeepsAutograd) {
  Tensor x = randn({2, 3, 4, 4}, {DType::f64}).requires_grad_(true);
  Tensor y = x.contiguous(kCL);
  EXPECT_TRUE(y.requires_grad());
  Tensor w = randn({2, 3, 4, 4}, {DType::f64});
  sum(mul(y, w)).backward();
  EXPECT_TRUE(close(x.grad(), w, 0, 0));
}

TEST(ChannelsLast, ElementwiseKeepsLayout) {
  Tensor x = randn({2, 3, 4, 5}).contiguous(kCL);
  EXPECT_TRUE(is_cl(relu(x)));
  EXPECT_TRUE(is_cl(add(x, x)));
  EXPECT_TRUE(is_cl(add(x, randn({2, 3, 4, 5}))));
}

// Runs f on NCHW inputs and on the same values in NHWC (inputs marked in `cl`), compares the
// outputs and the gradients of every input (f64), and returns the NHWC outputs.
std::vector<Tensor> same_as_nchw(const std::function<std::vector<Tensor>(const std::vector<Tensor>&)>& f,
                                 const std::vector<Tensor>& in, const std::vector<bool>& cl) {
  auto run = [&](bool nhwc) {
    std::vector<Tensor> leaves, args;
    for (size_t i = 0; i < in.size(); ++i) {
      Tensor l = nhwc && cl[i] ? in[i].contiguous(kCL) : in[i].clone();
      l = l.detach().requires_grad_(true);
      leaves.push_back(l);
      args.push_back(l);
    }
    std::vector<Tensor> outs = f(args);
    Tensor loss = zeros({}, {DType::f64});
    for (auto& o : outs) loss = add(loss, sum(mul(o, sin(arange(0, static_cast<double>(o.numel()), 1, {DType::f64})
                                                         .reshape(o.sizes())))));
    loss.backward();
    std::vector<Tensor> grads;
    for (auto& l : leaves) grads.push_back(l.grad());
    return std::make_pair(outs, grads);
  };
  auto [ref, ref_g] = run(false);
  auto [got, got_g] = run(true);
  for (size_t i = 0; i < ref.size(); ++i) EXPECT_TRUE(close(got[i], ref[i], 1e-10, 1e-10)) << "output " << i;
  for (size_t i = 0; i < ref_g.size(); ++i) EXPECT_TRUE(close(got_g[i], ref_g[i], 1e-10, 1e-10)) << "grad " << i;
  return got;
}

TEST(ChannelsLast, Conv2dLayoutAndValues) {
  Tensor x = randn({2, 4, 7, 6}, {DType::f64}), w = randn({5, 4, 3, 3}, {DType::f64}), b = randn({5}, {DType::f64});
  auto conv = [](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{conv2d(in[0], in[1], in[2], {2, 1}, {1, 1})};
  };
  // input channels_last, weight channels_last, or both: the output is channels_last
  for (std::vector<bool> cl : {std::vector<bool>{true, false, false}, {false, true, false}, {true, true, false}}) {
    auto out = same_as_nchw(conv, {x, w, b}, cl);
    EXPECT_TRUE(is_cl(out[0]));
  }
  // grouped, asymmetric "same" padding, f32 (oneDNN) and f64 (im2col) kernels
  Tensor xg = randn({2, 4, 6, 6}, {DType::f64}), wg = randn({4, 2, 2, 2}, {DType::f64});
  same_as_nchw([](auto& in) { return std::vector<Tensor>{conv2d(in[0], in[1], {}, {1, 1}, "same", {1, 1}, 2)}; },
               {xg, wg}, {true, true});
  Tensor xf = randn({2, 3, 5, 5}).contiguous(kCL), wf = randn({4, 3, 3, 3});
  Tensor yf = conv2d(xf, wf, {}, {1, 1}, {1, 1});
  EXPECT_TRUE(is_cl(yf));
  EXPECT_TRUE(close(yf, conv2d(xf.contiguous(), wf, {}, {1, 1}, {1, 1}), 1e-5, 1e-5));
  // row-major operands give a row-major output
  EXPECT_TRUE(conv2d(x, w, b).is_contiguous());
}

TEST(ChannelsLast, Conv2dGradientsLayout) {
  Tensor x = randn({2, 4, 6, 6}).contiguous(kCL).requires_grad_(true);
  Tensor w = randn({8, 4, 3, 3}).contiguous(kCL).requires_grad_(true);
  Tensor y = conv2d(x, w, {}, {1, 1}, {1, 1});
  sum(mul(y, y)).backward();
  EXPECT_TRUE(is_cl(x.grad()));  // grad_input follows the input
  EXPECT_TRUE(is_cl(w.grad()));  // grad_weight follows the weight
}

TEST(ChannelsLast, ConvTranspose2d) {
  Tensor x = randn({2, 4, 5, 5}, {DType::f64}), w = randn({4, 3, 3, 3}, {DType::f64});
  auto out = same_as_nchw([](auto& in) { return std::vector<Tensor>{conv_transpose2d(in[0], in[1], {}, {2, 2})}; },
                          {x, w}, {true, false});
  EXPECT_TRUE(is_cl(out[0]));
}

TEST(ChannelsLast, BatchNormTrainAndEval) {
  for (bool training : {true, false}) {
    Tensor x = add(mul(randn({3, 5, 4, 6}, {DType::f64}), 2.0), 1.0);
    Tensor w = randn({5}, {DType::f64}), b = randn({5}, {DType::f64});
    Tensor rm = randn({5}, {DType::f64}), rv = add(rand({5}, {DType::f64}), 0.5);
    Tensor rm2 = rm.clone(), rv2 = rv.clone();
    auto out = same_as_nchw([&](const std::vector<Tensor>& in) {
      Tensor m = training ? Tensor() : rm.clone(), v = training ? Tensor() : rv.clone();
      return std::vector<Tensor>{batch_norm(in[0], in[1], in[2], m, v, training)};
    }, {x, w, b}, {true, false, false});
    EXPECT_TRUE(is_cl(out[0]));
    // running statistics: the same update from an NHWC input
    Tensor y1 = batch_norm(x, w, b, rm, rv, training);
    Tensor y2 = batch_norm(x.contiguous(kCL), w, b, rm2, rv2, training);
    EXPECT_TRUE(is_cl(y2));
    EXPECT_TRUE(close(y2, y1, 1e-12, 1e-12));
    EXPECT_TRUE(close(rm2, rm, 1e-12, 1e-12));
    EXPECT_TRUE(close(rv2, rv, 1e-12, 1e-12));
  }
}

TEST(ChannelsLast, PoolingLayoutAndValues) {
  Tensor x = randn({2, 3, 7, 8}, {DType::f64});
  auto mp = same_as_nchw([](auto& in) { return std::vector<Tensor>{max_pool2d(in[0], {3, 3}, {2, 2}, {1, 1})}; },
                         {x}, {true});
  EXPECT_TRUE(is_cl(mp[0]));
  auto [v, idx] = max_pool2d_with_indices(x.contiguous(kCL), {3, 3}, {2, 2}, {1, 1});
  auto [v0, idx0] = max_pool2d_with_indices(x, {3, 3}, {2, 2}, {1, 1});
  EXPECT_TRUE(is_cl(idx));
  EXPECT_TRUE(close(idx, idx0, 0, 0));
  for (std::vector<int64_t> o : {std::vector<int64_t>{1, 1}, {3, 2}}) {
    auto ap = same_as_nchw([o](auto& in) { return std::vector<Tensor>{adaptive_avg_pool2d(in[0], o)}; }, {x}, {true});
    EXPECT_TRUE(ap[0].is_contiguous(kCL));
  }
  // the input gradient of adaptive pooling to 1x1 is channels_last, as the input
  Tensor xl = x.contiguous(kCL).detach().requires_grad_(true);
  sum(adaptive_avg_pool2d(xl, {1, 1})).backward();
  EXPECT_TRUE(is_cl(xl.grad()));
  Tensor xm = x.contiguous(kCL).detach().requires_grad_(true);
  sum(max_pool2d(xm, {2, 2})).backward();
  EXPECT_TRUE(is_cl(xm.grad()));
}

// A ResNet basic block in NHWC: values and every gradient as NCHW, layout kept throughout.
TEST(ChannelsLast, ConvBnReluAddBlock) {
  Tensor x = randn({2, 4, 8, 8}, {DType::f64});
  Tensor w1 = randn({4, 4, 3, 3}, {DType::f64}), w2 = randn({4, 4, 1, 1}, {DType::f64});
  Tensor g = add(rand({4}, {DType::f64}), 0.5), b = randn({4}, {DType::f64});
  auto block = [](const std::vector<Tensor>& in) {
    Tensor h = relu(batch_norm(conv2d(in[0], in[1], {}, {1, 1}, {1, 1}), in[3], in[4], {}, {}, true));
    h = batch_norm(conv2d(h, in[2]), in[3], in[4], {}, {}, true);
    Tensor y = relu(add(h, in[0]));
    return std::vector<Tensor>{adaptive_avg_pool2d(max_pool2d(y, {2, 2}), {1, 1}).flatten(1), y};
  };
  auto out = same_as_nchw(block, {x, w1, w2, g, b}, {true, true, true, false, false});
  EXPECT_TRUE(is_cl(out[1]));
}

}  // namespace
