// Module::to(MemoryFormat::channels_last): 4-D parameters become channels_last in place
// (identity kept, so optimizers and tied weights stay valid), a conv/bn/relu/pool network gives
// the NCHW values and gradients, and SGD/Adam steps keep the layout and the NCHW results.
#include <gtest/gtest.h>

#include "deepseek/nn/nn.h"
#include "deepseek/optim/adam.h"
#include "deepseek/optim/sgd.h"
#include "tests/support/test_util.h"

namespace deepseek::nn {
namespace {

using deepseek::testing::close;
constexpr auto kCL = MemoryFormat::channels_last;

std::shared_ptr<Sequential> net() {
  return std::make_shared<Sequential>(std::vector<ModulePtr>{
      std::make_shared<Conv2d>(3, 8, 3, 1, 1, false), std::make_shared<BatchNorm2d>(8), std::make_shared<ReLU>(),
      std::make_shared<Conv2d>(8, 4, 1, 1, 0, true)});
}

TEST(ChannelsLastModule, ToKeepsIdentityAndConvertsOnly4d) {
  manual_seed(1);
  auto m = net();
  auto before = m->parameters();
  std::vector<Tensor> values;
  for (auto& p : before) values.push_back(p.detach().clone());
  m->to(kCL);
  auto after = m->parameters();
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_TRUE(before[i].is_same(after[i]));
    EXPECT_TRUE(after[i].requires_grad());
    EXPECT_TRUE(close(after[i], values[i], 0, 0));
    if (after[i].dim() == 4) EXPECT_TRUE(after[i].is_contiguous(kCL));
    else EXPECT_TRUE(after[i].is_contiguous());
  }
  EXPECT_FALSE(before[0].is_contiguous());  // the 3x3 weight really moved
  m->to(MemoryFormat::contiguous);
  for (auto& p : m->parameters()) EXPECT_TRUE(p.is_contiguous());
}

// Two copies of one network, NCHW and NHWC, trained side by side for a few steps.
template <typename MakeOpt>
void train_side_by_side(MakeOpt make_opt) {
  manual_seed(2);
  auto a = net(), b = net();
  b->load_state_dict(a->state_dict());
  a->to(DType::f64);
  b->to(DType::f64);
  b->to(kCL);
  auto oa = make_opt(a->parameters()), ob = make_opt(b->parameters());
  Tensor x = randn({2, 3, 6, 6}, {DType::f64});
  for (int step = 0; step < 3; ++step) {
    Tensor ya = (*a)(x), yb = (*b)(x.contiguous(kCL));
    EXPECT_TRUE(yb.is_contiguous(kCL) && !yb.is_contiguous());
    EXPECT_TRUE(close(yb, ya, 1e-10, 1e-10));
    oa->zero_grad();
    ob->zero_grad();
    sum(mul(ya, ya)).backward();
    sum(mul(yb, yb)).backward();
    oa->step();
    ob->step();
  }
  auto pa = a->parameters(), pb = b->parameters();
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_TRUE(close(pb[i], pa[i], 1e-9, 1e-9)) << i;
    if (pb[i].dim() == 4 && pb[i].sizes()[2] > 1) EXPECT_FALSE(pb[i].is_contiguous()) << i;
  }
}

TEST(ChannelsLastModule, SgdMatchesNchw) {
  train_side_by_side([](std::vector<Tensor> ps) {
    return std::make_unique<optim::SGD>(ps, optim::SGDOptions{.lr = 0.05, .momentum = 0.9});
  });
}

TEST(ChannelsLastModule, AdamMatchesNchw) {
  train_side_by_side([](std::vector<Tensor> ps) {
    optim::AdamOptions o;
    o.lr = 1e-2;
    return std::make_unique<optim::Adam>(ps, o);
  });
}

}  // namespace
}  // namespace deepseek::nn
