// nn::Module machinery: registration and dotted paths, state_dict round trip and strict
// loading errors, train/eval, to(), apply, hooks (forward pre/post, full backward) and
// functional_call.
#include <gtest/gtest.h>

#include "deepseek/autograd/engine.h"
#include "deepseek/autograd/grad_mode.h"
#include "deepseek/nn/nn.h"
#include "tests/support/test_util.h"

namespace deepseek::nn {
namespace {

using deepseek::testing::close;

std::shared_ptr<Sequential> mlp() {
  return std::make_shared<Sequential>(std::vector<ModulePtr>{
      std::make_shared<Linear>(4, 8), std::make_shared<ReLU>(), std::make_shared<Linear>(8, 3)});
}

bool has_key(const StateDict& sd, const std::string& k) { return sd.count(k) > 0; }

TEST(Module, NamedParametersUseDottedPaths) {
  auto m = mlp();
  auto named = m->named_parameters();
  std::vector<std::string> names;
  for (auto& [n, t] : named) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"}));
  EXPECT_EQ(m->num_parameters(), 4 * 8 + 8 + 8 * 3 + 3);
  for (auto& [n, t] : named) EXPECT_TRUE(t.requires_grad()) << n;
  auto mods = m->named_modules();
  ASSERT_EQ(mods.size(), 4u);
  EXPECT_EQ(mods[0].first, "");
  EXPECT_EQ(mods[3].first, "2");
}

TEST(Module, CustomModuleRegistration) {
  struct Block : Module {
    Block() : Module("Block") {
      fc = register_module("fc", std::make_shared<Linear>(3, 3));
      scale = register_parameter("scale", ones({3}));
      register_buffer("steps", zeros({}, {DType::i64}));
      register_buffer("cache", zeros({3}), /*persistent=*/false);
    }
    Tensor forward(const Tensor& x) override { return mul((*fc)(x), scale); }
    std::shared_ptr<Linear> fc;
    Tensor scale;
  };
  auto b = std::make_shared<Block>();
  auto sd = b->state_dict();
  EXPECT_TRUE(has_key(sd, "fc.weight") && has_key(sd, "scale") && has_key(sd, "steps"));
  EXPECT_FALSE(has_key(sd, "cache"));  // non-persistent
  EXPECT_EQ(b->named_buffers().size(), 2u);
  EXPECT_THROW(b->register_parameter("scale", ones({1})), Error);
  EXPECT_THROW(b->register_parameter("a.b", ones({1})), Error);
  Tensor y = (*b)(ones({2, 3}));
  EXPECT_EQ(y.sizes(), (Shape{2, 3}));
}

TEST(Module, StateDictRoundTrip) {
  auto a = mlp(), b = mlp();
  Tensor x = randn({5, 4});
  EXPECT_FALSE(allclose((*a)(x), (*b)(x)));
  auto r = b->load_state_dict(a->state_dict());
  EXPECT_TRUE(r.missing_keys.empty() && r.unexpected_keys.empty());
  EXPECT_TRUE(close((*b)(x), (*a)(x), 0, 0));
  // Loaded values are copies: changing a afterwards leaves b alone.
  {
    autograd::NoGradGuard ng;
    a->parameters()[0].fill_(0.0);
  }
  EXPECT_FALSE(allclose((*a)(x), (*b)(x)));
  // Batch-norm buffers (including the i64 counter) round-trip too.
  auto bn1 = std::make_shared<BatchNorm1d>(3), bn2 = std::make_shared<BatchNorm1d>(3);
  (*bn1)(randn({8, 3}));
  (*bn1)(randn({8, 3}));
  bn2->load_state_dict(bn1->state_dict());
  EXPECT_EQ(bn2->num_batches_tracked.item<int64_t>(), 2);
  EXPECT_TRUE(close(bn2->running_mean, bn1->running_mean, 0, 0));
}

std::string load_error(Module& m, const StateDict& sd, bool strict = true) {
  try {
    m.load_state_dict(sd, strict);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Module, StrictLoadingNamesMissingUnexpectedAndMismatchedKeys) {
  auto m = mlp();
  auto sd = m->state_dict();
  sd.erase("2.bias");
  sd.erase("0.weight");
  sd["3.weight"] = zeros({1});
  std::string e = load_error(*m, sd);
  EXPECT_NE(e.find("missing key(s): \"0.weight\", \"2.bias\""), std::string::npos) << e;
  EXPECT_NE(e.find("unexpected key(s): \"3.weight\""), std::string::npos) << e;
  EXPECT_NE(e.find("Sequential"), std::string::npos) << e;

  auto ok = mlp()->state_dict();
  ok["0.bias"] = zeros({7});
  e = load_error(*m, ok);
  EXPECT_NE(e.find("size mismatch for 0.bias"), std::string::npos) << e;
  EXPECT_NE(e.find("[7]"), std::string::npos) << e;
  EXPECT_NE(e.find("[8]"), std::string::npos) << e;
  // A shape mismatch fails even when not strict, and nothing is half-loaded.
  Tensor before = m->parameters()[0].clone();
  EXPECT_FALSE(load_error(*m, ok, false).empty());
  EXPECT_TRUE(close(m->parameters()[0], before, 0, 0));

  // Non-strict: reports instead of throwing.
  auto r = m->load_state_dict(sd, false);
  EXPECT_EQ(r.missing_keys, (std::vector<std::string>{"0.weight", "2.bias"}));
  EXPECT_EQ(r.unexpected_keys, (std::vector<std::string>{"3.weight"}));
}

TEST(Module, TrainEvalApplyAndTo) {
  auto m = std::make_shared<Sequential>(
      std::vector<ModulePtr>{std::make_shared<Linear>(3, 3), std::make_shared<Dropout>(0.5)});
  EXPECT_TRUE((*m)[1]->is_training());
  m->eval();
  EXPECT_FALSE((*m)[1]->is_training());
  Tensor x = randn({4, 3});
  EXPECT_TRUE(close((*(*m)[1])(x), x, 0, 0));  // dropout is the identity in eval
  int visited = 0;
  m->apply([&](Module&) { ++visited; });
  EXPECT_EQ(visited, 3);

  Tensor w = m->parameters()[0];
  m->to(DType::f64);
  // Same tensor object (optimizers keep working), new dtype.
  EXPECT_TRUE(w.is_same(m->parameters()[0]));
  EXPECT_EQ(w.dtype(), DType::f64);
  EXPECT_TRUE(w.requires_grad());
  EXPECT_EQ((*m)(cast(x, DType::f64)).dtype(), DType::f64);
}

TEST(Module, TiedWeightsCountOnce) {
  struct Tied : Module {
    Tied() : Module("Tied") {
      emb = register_module("emb", std::make_shared<Embedding>(10, 4));
      head = register_module("head", std::make_shared<Linear>(4, 10, false));
      head->weight = emb->weight;
    }
    std::shared_ptr<Embedding> emb;
    std::shared_ptr<Linear> head;
  };
  auto t = std::make_shared<Tied>();
  EXPECT_EQ(t->num_parameters(), 40);
  EXPECT_EQ(t->parameters().size(), 1u);
  EXPECT_EQ(t->state_dict().size(), 2u);  // both names, as PyTorch
}

TEST(Module, ForwardHooksFireWithArgumentsAndCanReplace) {
  auto fc = std::make_shared<Linear>(3, 2);
  std::vector<std::string> calls;
  Tensor seen_in, seen_out;
  auto h1 = fc->register_forward_pre_hook(
      [&](Module& m, const std::vector<Tensor>& in) -> std::optional<std::vector<Tensor>> {
        calls.push_back("pre:" + m.type_name());
        seen_in = in[0];
        return std::vector<Tensor>{mul(in[0], 2.0)};
      });
  auto h2 = fc->register_forward_hook(
      [&](Module&, const std::vector<Tensor>& in,
          const std::vector<Tensor>& out) -> std::optional<std::vector<Tensor>> {
        calls.push_back("post");
        EXPECT_EQ(in.size(), 1u);
        seen_out = out[0];
        return std::nullopt;
      });
  Tensor x = randn({4, 3});
  Tensor y = (*fc)(x);
  EXPECT_EQ(calls, (std::vector<std::string>{"pre:Linear", "post"}));
  EXPECT_TRUE(seen_in.is_same(x));
  EXPECT_TRUE(close(y, fc->forward(mul(x, 2.0))));
  EXPECT_TRUE(seen_out.is_same(y));
  h1.remove();
  h2.remove();
  calls.clear();
  EXPECT_TRUE(close((*fc)(x), fc->forward(x)));
  EXPECT_TRUE(calls.empty());
}

TEST(Module, FullBackwardHookSeesGradInputAndGradOutput) {
  auto fc = std::make_shared<Linear>(3, 2);
  std::vector<Tensor> gin, gout;
  int fired = 0;
  fc->register_full_backward_hook(
      [&](Module&, const std::vector<Tensor>& gi,
          const std::vector<Tensor>& go) -> std::optional<std::vector<Tensor>> {
        ++fired;
        gin = gi;
        gout = go;
        return std::nullopt;
      });
  Tensor x = randn({4, 3}).requires_grad_(true);
  Tensor y = (*fc)(x);
  Tensor w = randn({4, 2});
  sum(mul(y, w)).backward();
  EXPECT_EQ(fired, 1);
  ASSERT_EQ(gout.size(), 1u);
  ASSERT_EQ(gin.size(), 1u);
  EXPECT_TRUE(close(gout[0], w));                     // dL/dy
  EXPECT_TRUE(close(gin[0], matmul(w, fc->weight)));  // dL/dx = w · W
  EXPECT_TRUE(close(x.grad(), gin[0]));

  // A hook can replace grad_input.
  auto fc2 = std::make_shared<Linear>(3, 2);
  fc2->register_full_backward_hook(
      [](Module&, const std::vector<Tensor>& gi,
         const std::vector<Tensor>&) -> std::optional<std::vector<Tensor>> {
        return std::vector<Tensor>{mul(gi[0], 0.0)};
      });
  Tensor x2 = randn({2, 3}).requires_grad_(true);
  sum((*fc2)(x2)).backward();
  EXPECT_TRUE(close(x2.grad(), zeros({2, 3}), 0, 0));
  EXPECT_TRUE(fc2->weight.grad().defined());

  // Inputs without grad: fires with undefined grad_input once grad_output is known.
  fired = 0;
  Tensor x3 = randn({4, 3});
  sum((*fc)(x3)).backward();
  EXPECT_EQ(fired, 1);
  EXPECT_FALSE(gin[0].defined());
  EXPECT_TRUE(close(gout[0], ones({4, 2})));
}

TEST(Module, FunctionalCallSwapsAndRestores) {
  auto fc = std::make_shared<Linear>(3, 2);
  Tensor w0 = fc->weight;
  Tensor x = randn({4, 3});
  Tensor w = randn({2, 3}).requires_grad_(true), b = randn({2});
  Tensor y = functional_call(*fc, {{"weight", w}, {"bias", b}}, {x})[0];
  EXPECT_TRUE(close(y, add(matmul(x, transpose(w, 0, 1)), b)));
  EXPECT_TRUE(fc->weight.is_same(w0));  // restored
  // Gradients flow to the substituted tensor, not to the module's.
  sum(y).backward();
  EXPECT_TRUE(w.grad().defined());
  EXPECT_FALSE(fc->weight.grad().defined());
  // Partial substitution keeps the others; strict demands all; unknown keys fail.
  Tensor y2 = functional_call(*fc, {{"bias", b}}, {x})[0];
  EXPECT_TRUE(close(y2, add(matmul(x, transpose(w0, 0, 1)), b)));
  EXPECT_THROW(functional_call(*fc, {{"bias", b}}, {x}, true), Error);
  EXPECT_THROW(functional_call(*fc, {{"nope", b}}, {x}), Error);
  // Restored even when forward throws.
  EXPECT_THROW(functional_call(*fc, {{"weight", randn({2, 5})}}, {x}), Error);
  EXPECT_TRUE(fc->weight.is_same(w0));
}

TEST(Module, ReprLooksLikePyTorch) {
  auto m = mlp();
  EXPECT_EQ(m->repr(),
            "Sequential(\n  (0): Linear(in_features=4, out_features=8, bias=True)\n  (1): ReLU()\n"
            "  (2): Linear(in_features=8, out_features=3, bias=True)\n)");
}

TEST(Init, DefaultInitializationBoundsAndGains) {
  manual_seed(1);
  Linear fc(400, 300);
  double bound = 1.0 / std::sqrt(400.0);
  EXPECT_LE(amax(abs(fc.weight)).item<double>(), bound);
  EXPECT_GT(amax(abs(fc.weight)).item<double>(), 0.95 * bound);
  EXPECT_LE(amax(abs(fc.bias)).item<double>(), bound);
  Tensor t = empty({256, 512});
  init::kaiming_normal_(t, 0, init::FanMode::fan_in, "relu");
  EXPECT_NEAR(std(t).item<double>(), std::sqrt(2.0 / 512), 0.002);
  init::xavier_uniform_(t);
  EXPECT_NEAR(std(t).item<double>(), std::sqrt(2.0 / (256 + 512)), 0.001);
  init::trunc_normal_(t, 0.0, 1.0, -2.0, 2.0);
  EXPECT_LE(amax(abs(t)).item<double>(), 2.0);
  EXPECT_NEAR(mean(t).item<double>(), 0.0, 0.01);
  EXPECT_NEAR(std(t).item<double>(), 0.8796, 0.01);  // std of N(0,1) truncated to ±2
  init::ones_(t);
  EXPECT_EQ(sum(t).item<double>(), 256.0 * 512);
  EXPECT_NEAR(init::calculate_gain("leaky_relu", std::sqrt(5.0)), std::sqrt(1.0 / 3.0), 1e-12);
  Embedding e(5, 3, 1);
  EXPECT_EQ(sum(abs(e.weight.select(0, 1))).item<double>(), 0.0);
}

}  // namespace
}  // namespace deepseek::nn
