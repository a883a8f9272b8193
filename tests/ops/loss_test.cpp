// Losses: forward vs PyTorch (tests/fixtures/nn.json), gradcheck in f64, bad inputs.
#include <gtest/gtest.h>

#include "tests/support/test_util.h"

using namespace deepseek;
using namespace deepseek::testing;

namespace {
const nlohmann::json& cases() {
  static nlohmann::json j = load_fixture("nn.json").at("cases");
  return j;
}
Tensor F(const char* c, const char* k) { return tensor_from_json(cases().at(c).at(k)); }
std::vector<Tensor> one(const Tensor& t) { return {t}; }
}  // namespace

TEST(Loss, CrossEntropyMatchesTorch) {
  EXPECT_TRUE(close(cross_entropy(F("ce_plain", "x"), F("ce_plain", "t")), F("ce_plain", "out")));
  const char* c = "ce_weight_ignore_smooth";
  EXPECT_TRUE(close(cross_entropy(F(c, "x"), F(c, "t"), F(c, "w"), -100, "mean", 0.1), F(c, "out")));
  c = "ce_ignore_smooth_sum";
  EXPECT_TRUE(close(cross_entropy(F(c, "x"), F(c, "t"), {}, -100, "sum", 0.2), F(c, "out")));
  c = "ce_none_ignore2";
  EXPECT_TRUE(close(cross_entropy(F(c, "x"), F(c, "t"), {}, 2, "none", 0.05), F(c, "out")));
  c = "ce_kdim";
  EXPECT_TRUE(close(cross_entropy(F(c, "x"), F(c, "t"), F(c, "w")), F(c, "out")));
  c = "ce_probs_smooth";
  EXPECT_TRUE(close(cross_entropy(F(c, "x"), F(c, "t"), F(c, "w"), -100, "mean", 0.1), F(c, "out")));
  c = "nll_weight";
  EXPECT_TRUE(close(nll_loss(F(c, "x"), F(c, "t"), F(c, "w")), F(c, "out")));
}

TEST(Loss, PointwiseMatchTorch) {
  EXPECT_TRUE(close(mse_loss(F("mse", "x"), F("mse", "t")), F("mse", "out")));
  EXPECT_TRUE(close(l1_loss(F("l1_sum", "x"), F("l1_sum", "t"), "sum"), F("l1_sum", "out")));
  EXPECT_TRUE(close(smooth_l1_loss(F("smooth_l1", "x"), F("smooth_l1", "t"), "none", 0.5),
                    F("smooth_l1", "out")));
  const char* c = "bce_logits";
  EXPECT_TRUE(close(binary_cross_entropy_with_logits(F(c, "x"), F(c, "t"), F(c, "w"), "mean", F(c, "pw")),
                    F(c, "out")));
  c = "bce_logits_plain_none";
  EXPECT_TRUE(close(binary_cross_entropy_with_logits(F(c, "x"), F(c, "t"), {}, "none"), F(c, "out")));
  c = "kl_div_batchmean";
  EXPECT_TRUE(close(kl_div(F(c, "x"), F(c, "t"), "batchmean"), F(c, "out")));
  c = "kl_div_log_target";
  EXPECT_TRUE(close(kl_div(F(c, "x"), F(c, "t"), "sum", true), F(c, "out")));
}

TEST(Loss, BceWithLogitsIsStableForLargeLogits) {
  Tensor x = tensor({-200.0, 200.0, 0.0});
  Tensor t = tensor({1.0, 0.0, 1.0});
  auto v = binary_cross_entropy_with_logits(x, t, {}, "none").to_vector<double>();
  EXPECT_NEAR(v[0], 200.0, 1e-4);
  EXPECT_NEAR(v[1], 200.0, 1e-4);
  EXPECT_NEAR(v[2], std::log(2.0), 1e-6);
}

TEST(Loss, Gradcheck) {
  Tensor logits = grad_input({4, 5});
  Tensor tgt = tensor_i64({1, -100, 4, 0});
  Tensor w = add(rand({5}, {DType::f64}), 0.5);
  EXPECT_TRUE(grad_ok([&](auto& in) { return one(cross_entropy(in[0], tgt, w, -100, "mean", 0.1)); }, {logits}));
  EXPECT_TRUE(grad_ok([&](auto& in) { return one(cross_entropy(in[0], tgt, {}, -100, "none", 0.2)); }, {logits}));
  Tensor lk = grad_input({2, 3, 4});
  Tensor tk = tensor_i64({0, 2, 1, 1, 2, 0, 0, 1}, {2, 4});
  EXPECT_TRUE(grad_ok([&](auto& in) { return one(cross_entropy(in[0], tk, {}, -100, "sum")); }, {lk}));
  Tensor probs = softmax(rand({4, 5}, {DType::f64}), 1);
  EXPECT_TRUE(grad_ok([&](auto& in) { return one(cross_entropy(in[0], probs, {}, -100, "mean", 0.1)); }, {logits}));
  EXPECT_TRUE(grad_ok([&](auto& in) { return one(nll_loss(in[0], tgt, w)); }, {logits}));

  Tensor a = grad_input({3, 4}), b = grad_input({3, 4});
  EXPECT_TRUE(grad_ok([](auto& in) { return one(mse_loss(in[0], in[1])); }, {a, b}));
  EXPECT_TRUE(grad_ok([](auto& in) { return one(l1_loss(in[0], in[1], "sum")); }, {a, b}));
  EXPECT_TRUE(grad_ok([](auto& in) { return one(smooth_l1_loss(in[0], in[1], "mean", 0.7)); }, {a, b}));
  Tensor t01 = grad_input({3, 4}, 0, 1), bw = rand({3, 4}, {DType::f64}), pw = grad_input({4}, 0.5, 2);
  EXPECT_TRUE(grad_ok([&](auto& in) {
    return one(binary_cross_entropy_with_logits(in[0], in[1], bw, "mean", in[2]));
  }, {a, t01, pw}));
  Tensor lp = log_softmax(grad_input({3, 4}).detach(), 1).requires_grad_();
  Tensor tp = grad_input({3, 4}, 0.1, 1);
  EXPECT_TRUE(grad_ok([](auto& in) { return one(kl_div(in[0], in[1], "batchmean")); }, {lp, tp}));
  EXPECT_TRUE(grad_ok([](auto& in) { return one(kl_div(in[0], in[1], "mean", true)); }, {lp, a}));
}

TEST(Loss, BadInputsNameTheFunction) {
  Tensor x = randn({4, 5});
  Tensor t = tensor_i64({1, 2, 3, 0});
  EXPECT_OP_ERROR("cross_entropy", cross_entropy(x, t, {}, -100, "avg"));
  EXPECT_OP_ERROR("cross_entropy", cross_entropy(x, tensor({1, 2, 3, 0})));  // float target, wrong shape
  EXPECT_OP_ERROR("cross_entropy", cross_entropy(x, cast(t, DType::b8)));
  EXPECT_OP_ERROR("cross_entropy", cross_entropy(x, tensor_i64({1, 2, 3})));
  EXPECT_OP_ERROR("cross_entropy", cross_entropy(x, tensor_i64({1, 2, 3, 5})));
  EXPECT_OP_ERROR("cross_entropy", cross_entropy(x, t, ones({4})));
  EXPECT_OP_ERROR("cross_entropy", cross_entropy(x, t, {}, -100, "mean", 1.5));
  EXPECT_OP_ERROR("cross_entropy", cross_entropy(arange(4), t));
  EXPECT_OP_ERROR("nll_loss", nll_loss(x, tensor_i64({1, 2, 3, -1})));
  EXPECT_OP_ERROR("nll_loss", nll_loss(x, t, {}, -100, "bad"));
  EXPECT_OP_ERROR("mse_loss", mse_loss(x, randn({4})));
  EXPECT_OP_ERROR("mse_loss", mse_loss(x, x, "Mean"));
  EXPECT_OP_ERROR("l1_loss", l1_loss(x, cast(x, DType::i64)));
  EXPECT_OP_ERROR("smooth_l1_loss", smooth_l1_loss(x, x, "mean", -1.0));
  EXPECT_OP_ERROR("binary_cross_entropy_with_logits", binary_cross_entropy_with_logits(x, randn({5})));
  EXPECT_OP_ERROR("binary_cross_entropy_with_logits",
                  binary_cross_entropy_with_logits(x, x, {}, "mean", ones({3})));
  EXPECT_OP_ERROR("kl_div", kl_div(x, x, "batch"));
  EXPECT_OP_ERROR("kl_div", kl_div(x, randn({2})));
}
