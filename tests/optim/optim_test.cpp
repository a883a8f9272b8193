// Optimizers, schedulers, clipping and GradScaler against PyTorch
// (tests/fixtures/nn_modules.json from gen_nn_modules.py) and closed forms.
#include "deepseek/optim/optim.h"

#include <gtest/gtest.h>

#include <cmath>

#include "deepseek/autograd/grad_mode.h"
#include "deepseek/nn/nn.h"
#include "tests/support/test_util.h"

namespace deepseek::optim {
namespace {

using deepseek::testing::close;
using deepseek::testing::load_fixture;
using deepseek::testing::tensor_from_json;

const nlohmann::json& fixture() {
  static nlohmann::json j = load_fixture("nn_modules.json");
  return j;
}

std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<Tensor> ps) {
  if (name == "sgd") return std::make_unique<SGD>(ps, SGDOptions{.lr = 0.1});
  if (name == "sgd_momentum")
    return std::make_unique<SGD>(
        ps, SGDOptions{.lr = 0.05, .momentum = 0.9, .dampening = 0.1, .weight_decay = 1e-2});
  if (name == "sgd_nesterov")
    return std::make_unique<SGD>(
        ps, SGDOptions{.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-3, .nesterov = true});
  if (name == "adam") return std::make_unique<Adam>(ps, AdamOptions{.lr = 1e-2});
  if (name == "adam_wd_amsgrad")
    return std::make_unique<Adam>(ps,
                                  AdamOptions{.lr = 1e-2, .weight_decay = 0.1, .amsgrad = true});
  if (name == "adamw")
    return std::make_unique<AdamW>(ps, AdamOptions{.lr = 1e-2, .weight_decay = 0.1});
  if (name == "adamw_amsgrad_betas")
    return std::make_unique<AdamW>(ps, AdamOptions{.lr = 3e-3,
                                                   .beta1 = 0.8,
                                                   .beta2 = 0.99,
                                                   .eps = 1e-6,
                                                   .weight_decay = 1e-2,
                                                   .amsgrad = true});
  if (name == "sgd_groups")
    return std::make_unique<SGD>(
        std::vector<ParamGroup>{ParamGroup({ps[0]}),
                                ParamGroup({ps[1]}, {{"lr", 0.01}, {"momentum", 0.5}})},
        SGDOptions{.lr = 0.1, .momentum = 0.9});
  return nullptr;
}

// |a − e| ≤ 1e-6·|e| + 1e-7 element-wise, the worst relative error reported.
::testing::AssertionResult within_rel(const Tensor& a, const Tensor& e, double& worst) {
  auto av = a.to_vector<double>(), ev = e.to_vector<double>();
  for (size_t i = 0; i < av.size(); ++i) {
    double err = std::abs(av[i] - ev[i]);
    worst = std::max(worst, err / std::max(std::abs(ev[i]), 1e-30));
    if (err > 1e-6 * std::abs(ev[i]) + 1e-7)
      return ::testing::AssertionFailure() << "element " << i << ": " << av[i] << " vs " << ev[i];
  }
  return ::testing::AssertionSuccess();
}

TEST(Optim, TrajectoriesMatchPyTorchOver100Steps) {
  const auto& fx = fixture().at("optim");
  std::vector<std::vector<Tensor>> grads;
  for (auto& step : fx.at("grads")) {
    grads.emplace_back();
    for (auto& g : step) grads.back().push_back(tensor_from_json(g));
  }
  for (auto& c : fx.at("cases")) {
    std::string name = c.at("name");
    SCOPED_TRACE(name);
    std::vector<Tensor> ps;
    for (auto& p : fx.at("initial")) ps.push_back(tensor_from_json(p).requires_grad_(true));
    auto opt = make_optimizer(name, ps);
    ASSERT_NE(opt, nullptr) << "no C++ optimizer for " << name;
    double worst = 0;
    const auto& traj = c.at("trajectory");
    ASSERT_EQ(traj.size(), 100u);
    for (size_t s = 0; s < traj.size(); ++s) {
      for (size_t i = 0; i < ps.size(); ++i) ps[i].set_grad(grads[s][i].clone());
      opt->step();
      for (size_t i = 0; i < ps.size(); ++i)
        ASSERT_TRUE(within_rel(ps[i], tensor_from_json(traj[s][i]), worst))
            << "step " << s + 1 << " param " << i;
    }
    RecordProperty(name + "_worst_rel", std::to_string(worst));
    std::cout << "  " << name << ": worst relative error over 100 steps " << worst << "\n";
  }
}

TEST(Optim, StateDictRoundTripContinuesIdentically) {
  manual_seed(5);
  auto run = [](Optimizer& opt, std::vector<Tensor>& ps, int steps, int seed) {
    for (int s = 0; s < steps; ++s) {
      manual_seed(seed + s);
      for (auto& p : ps) p.set_grad(randn(p.sizes()));
      opt.step();
    }
  };
  std::vector<Tensor> a = {randn({3, 2}).requires_grad_(true), randn({2}).requires_grad_(true)};
  std::vector<Tensor> b = {a[0].detach().clone().requires_grad_(true),
                           a[1].detach().clone().requires_grad_(true)};
  AdamW oa(a, AdamOptions{.lr = 0.01, .amsgrad = true});
  run(oa, a, 5, 100);
  auto st = oa.state_dict();
  EXPECT_TRUE(st.tensors.count("0.exp_avg") && st.tensors.count("1.max_exp_avg_sq"));
  EXPECT_EQ(st.meta["state"]["0"]["step"].get<double>(), 5.0);
  // Through JSON text, as a checkpoint would store it.
  OptimizerState copy{st.tensors, nlohmann::json::parse(st.meta.dump())};
  for (auto& [k, t] : copy.tensors) t = t.clone();
  {
    autograd::NoGradGuard ng;
    b[0].copy_(a[0]);
    b[1].copy_(a[1]);
  }
  AdamW ob(b, AdamOptions{.lr = 0.5});
  ob.load_state_dict(copy);
  EXPECT_EQ(ob.param_groups()[0].lr(), 0.01);
  run(oa, a, 3, 200);
  run(ob, b, 3, 200);
  EXPECT_TRUE(close(a[0], b[0], 0, 0));
  EXPECT_TRUE(close(a[1], b[1], 0, 0));
  // Mismatched structure is rejected with a clear error.
  SGD other({randn({3, 2}).requires_grad_(true)}, SGDOptions{.lr = 0.1});
  EXPECT_OP_ERROR("SGD.load_state_dict", other.load_state_dict(copy));
}

TEST(Optim, ParamGroupsAndZeroGrad) {
  auto fc = std::make_shared<nn::Linear>(3, 2);
  SGD opt({ParamGroup({fc->weight}), ParamGroup({fc->bias}, {{"lr", 0.0}})}, SGDOptions{.lr = 1.0});
  EXPECT_EQ(opt.param_groups()[1].get("momentum"), 0.0);  // filled from defaults
  Tensor b0 = fc->bias.clone(), w0 = fc->weight.clone();
  sum((*fc)(ones({1, 3}))).backward();
  opt.step();
  EXPECT_TRUE(close(fc->bias, b0, 0, 0));        // lr 0 in its group
  EXPECT_TRUE(close(fc->weight, sub(w0, 1.0)));  // dL/dW = 1
  opt.zero_grad();
  EXPECT_FALSE(fc->weight.grad().defined());
  EXPECT_OP_ERROR("SGD", SGD({fc->weight, fc->weight}));
  EXPECT_OP_ERROR("SGD", SGD({fc->weight}, SGDOptions{.lr = 0.1, .nesterov = true}));
  // Closure form returns the loss.
  Tensor loss = opt.step([&] {
    opt.zero_grad();
    Tensor l = sum((*fc)(ones({1, 3})));
    l.backward();
    return l;
  });
  EXPECT_TRUE(loss.defined());
}

TEST(Schedulers, LearningRatesMatchPyTorch) {
  for (auto& c : fixture().at("schedulers")) {
    std::string name = c.at("name");
    SCOPED_TRACE(name);
    Tensor p = zeros({1}).requires_grad_(true);
    std::unique_ptr<Optimizer> opt;
    if (name == "onecycle_adam")
      opt = std::make_unique<Adam>(std::vector<Tensor>{p}, AdamOptions{.lr = 1e-3});
    else
      opt = std::make_unique<SGD>(std::vector<Tensor>{p}, SGDOptions{.lr = 0.1, .momentum = 0.9});
    std::unique_ptr<LRScheduler> s;
    if (name == "step")
      s = std::make_unique<StepLR>(*opt, 3, 0.5);
    else if (name == "multistep")
      s = std::make_unique<MultiStepLR>(*opt, std::vector<int64_t>{2, 5, 7}, 0.3);
    else if (name == "linear_warmup")
      s = std::make_unique<LinearWarmup>(*opt, 5);
    else if (name == "cosine_warmup")
      s = std::make_unique<CosineWithWarmup>(*opt, 3, 12);
    else if (name == "cosine_warmup_min")
      s = std::make_unique<CosineWithWarmup>(*opt, 2, 10, 0.1);
    else if (name == "cosine_annealing")
      s = std::make_unique<CosineAnnealingLR>(*opt, 10, 0.001);
    else if (name == "onecycle_cos")
      s = std::make_unique<OneCycleLR>(*opt, 0.1, 20);
    else if (name == "onecycle_linear_3phase")
      s = std::make_unique<OneCycleLR>(
          *opt, 0.2, 25,
          OneCycleOptions{.pct_start = 0.25, .anneal_strategy = "linear", .three_phase = true});
    else if (name == "onecycle_adam")
      s = std::make_unique<OneCycleLR>(*opt, 0.01, 15);
    ASSERT_NE(s, nullptr) << "no C++ scheduler for " << name;
    auto lrs = c.at("lrs").get<std::vector<double>>();
    auto moms = c.at("momenta").get<std::vector<double>>();
    std::string mkey = name == "onecycle_adam" ? "beta1" : "momentum";
    for (size_t i = 0; i < lrs.size(); ++i) {
      EXPECT_NEAR(opt->param_groups()[0].lr(), lrs[i], 1e-12 + 1e-10 * std::abs(lrs[i]))
          << "step " << i;
      if (!moms.empty())
        EXPECT_NEAR(opt->param_groups()[0].get(mkey), moms[i], 1e-12) << "step " << i;
      p.set_grad(zeros({1}));
      opt->step();
      s->step();
    }
  }
}

TEST(Schedulers, StateDictResumes) {
  Tensor p = zeros({1}).requires_grad_(true);
  SGD o1({p}, SGDOptions{.lr = 0.1});
  StepLR s1(o1, 2, 0.5);
  for (int i = 0; i < 5; ++i) s1.step();
  SGD o2({p}, SGDOptions{.lr = 0.1});
  StepLR s2(o2, 2, 0.5);
  s2.load_state_dict(nlohmann::json::parse(s1.state_dict().dump()));
  s1.step();
  s2.step();
  EXPECT_DOUBLE_EQ(o1.param_groups()[0].lr(), o2.param_groups()[0].lr());
  EXPECT_EQ(s2.last_epoch(), 6);
}

TEST(ClipGrad, NormMatchesClosedForm) {
  Tensor a = zeros({2, 2}).requires_grad_(true), b = zeros({3}).requires_grad_(true);
  a.set_grad(tensor({1, -2, 3, 4}, {2, 2}));
  b.set_grad(tensor({0, 5, -6}));
  double l2 = std::sqrt(1 + 4 + 9 + 16 + 25 + 36.0);
  Tensor n = clip_grad_norm_({a, b}, 1.0);
  EXPECT_NEAR(n.item<double>(), l2, 1e-5);
  double coef = 1.0 / (l2 + 1e-6);
  EXPECT_TRUE(close(a.grad(), tensor({coef, -2 * coef, 3 * coef, 4 * coef}, {2, 2})));
  EXPECT_NEAR(
      std::sqrt(sum(square(a.grad())).item<double>() + sum(square(b.grad())).item<double>()), 1.0,
      1e-5);
  // Below the limit: untouched. Inf norm and p=1.
  a.set_grad(tensor({0.1, 0.1, 0.1, 0.1}, {2, 2}));
  b.set_grad(tensor({0.0, -0.3, 0.0}));
  EXPECT_NEAR(clip_grad_norm_({a, b}, 10.0).item<double>(), std::sqrt(0.04 + 0.09), 1e-6);
  EXPECT_TRUE(close(b.grad(), tensor({0.0, -0.3, 0.0})));
  EXPECT_NEAR(clip_grad_norm_({a, b}, 10.0, INFINITY).item<double>(), 0.3, 1e-6);
  EXPECT_NEAR(clip_grad_norm_({a, b}, 10.0, 1.0).item<double>(), 0.7, 1e-6);
  // Non-finite.
  b.set_grad(tensor({0.0, INFINITY, 0.0}));
  EXPECT_OP_ERROR("clip_grad_norm_", clip_grad_norm_({a, b}, 1.0, 2.0, true));
  // clip_grad_value_
  b.set_grad(tensor({-3.0, 0.5, 2.0}));
  clip_grad_value_({b}, 1.0);
  EXPECT_TRUE(close(b.grad(), tensor({-1.0, 0.5, 1.0})));
}

TEST(GradScaler, SkipsStepOnInfAndBacksOff) {
  Tensor p = ones({2}).requires_grad_(true);
  SGD opt({p}, SGDOptions{.lr = 1.0});
  GradScaler scaler(GradScalerOptions{.init_scale = 1024.0, .growth_interval = 2});
  Tensor loss = sum(p);
  Tensor scaled = scaler.scale(loss);
  EXPECT_EQ(scaled.item<double>(), 2048.0);
  scaled.backward();
  EXPECT_TRUE(scaler.step(opt));  // unscales to 1, steps
  EXPECT_TRUE(close(p, zeros({2})));
  scaler.update();
  EXPECT_EQ(scaler.get_scale(), 1024.0);
  // Overflow: the step is skipped and the scale halves.
  p.set_grad(tensor({INFINITY, 1.0}));
  EXPECT_FALSE(scaler.step(opt));
  EXPECT_TRUE(close(p, zeros({2})));
  scaler.update();
  EXPECT_EQ(scaler.get_scale(), 512.0);
  p.set_grad(tensor({NAN, 1.0}));
  scaler.unscale_(opt);
  EXPECT_TRUE(scaler.found_inf(opt));
  EXPECT_OP_ERROR("GradScaler.unscale_", scaler.unscale_(opt));
  EXPECT_FALSE(scaler.step(opt));
  scaler.update();
  EXPECT_EQ(scaler.get_scale(), 256.0);
  // growth_interval clean steps grow it.
  for (int i = 0; i < 2; ++i) {
    p.set_grad(ones({2}));
    EXPECT_TRUE(scaler.step(opt));
    scaler.update();
  }
  EXPECT_EQ(scaler.get_scale(), 512.0);
  // f16 gradients unscale in place.
  Tensor h = ones({3}, {DType::f16}).requires_grad_(true);
  SGD oh({h}, SGDOptions{.lr = 0.5});
  GradScaler s2(GradScalerOptions{.init_scale = 8.0});
  h.set_grad(full({3}, 8.0, {DType::f16}));
  EXPECT_TRUE(s2.step(oh));
  EXPECT_TRUE(close(cast(h, DType::f32), full({3}, 0.5)));
  auto st = s2.state_dict();
  GradScaler s3;
  s3.load_state_dict(st);
  EXPECT_EQ(s3.get_scale(), 8.0);
}

}  // namespace
}  // namespace deepseek::optim
