// Models of the zoo train on CUDA as on the CPU: the same initial weights (state dict copied
// to the GPU model), three optimizer steps on the same batch on each device, losses that agree
// (f32: rtol 1e-3) and decrease. Plus one bf16-autocast training step per model kind that runs
// and gives a finite loss.
#include <cmath>
#include <functional>
#include <memory>

#include "deepseek/core/accelerator.h"
#include "deepseek/models/bert.h"
#include "deepseek/models/gpt.h"
#include "deepseek/models/mlp.h"
#include "deepseek/models/resnet.h"
#include "deepseek/models/small_cnn.h"
#include "deepseek/ops/autocast.h"
#include "deepseek/optim/adam.h"
#include "deepseek/optim/sgd.h"
#include "tests/cuda/cuda_test_util.h"

namespace deepseek::testing {
namespace {

using MakeModel = std::function<nn::ModulePtr()>;
using MakeOpt = std::function<std::unique_ptr<optim::Optimizer>(nn::Module&)>;
using LossFn = std::function<Tensor(nn::Module&, const Tensor& x, const Tensor& y)>;

// cuDNN convolutions use TF32 by default; f32 comparisons with the CPU need it off.
struct NoConvTf32 {
  bool prev = conv_allow_tf32();
  NoConvTf32() { set_conv_allow_tf32(false); }
  ~NoConvTf32() { set_conv_allow_tf32(prev); }
};

float loss_value(const Tensor& l) { return l.detach().to(kCPU).to(DType::f32).item<float>(); }

std::vector<float> train_steps(nn::Module& m, optim::Optimizer& opt, const LossFn& loss_fn,
                               const Tensor& x, const Tensor& y, int steps) {
  std::vector<float> losses;
  m.train();
  for (int i = 0; i < steps; ++i) {
    opt.zero_grad();
    Tensor loss = loss_fn(m, x, y);
    loss.backward();
    opt.step();
    losses.push_back(loss_value(loss));
  }
  return losses;
}

// Builds the CPU model, copies its state dict into a second instance moved to the GPU (and
// checks that round trip), trains both for three steps on the same batch and compares.
void expect_same_training(const MakeModel& make, const MakeOpt& make_opt, const LossFn& loss_fn,
                          const Tensor& x_cpu, const Tensor& y_cpu, double rtol = 1e-3) {
  NoConvTf32 no_tf32;
  manual_seed(0);
  nn::ModulePtr cpu = make();
  manual_seed(1);  // different initial weights: the state dict must overwrite them all
  nn::ModulePtr gpu = make();
  gpu->to(kCuda);
  nn::StateDict sd;
  for (auto& [k, v] : cpu->state_dict()) sd[k] = v.to(kCuda);
  gpu->load_state_dict(sd);
  for (auto& [k, v] : gpu->state_dict()) {
    ASSERT_TRUE(v.device().is_cuda()) << k;
    EXPECT_TRUE(close(v.to(kCPU), cpu->state_dict().at(k), 0, 0)) << "state dict round trip: " << k;
  }
  auto opt_cpu = make_opt(*cpu);
  auto opt_gpu = make_opt(*gpu);
  std::vector<float> lc = train_steps(*cpu, *opt_cpu, loss_fn, x_cpu, y_cpu, 3);
  std::vector<float> lg = train_steps(*gpu, *opt_gpu, loss_fn, x_cpu.to(kCuda), y_cpu.to(kCuda), 3);
  ASSERT_EQ(lc.size(), lg.size());
  for (size_t i = 0; i < lc.size(); ++i) {
    EXPECT_TRUE(std::isfinite(lg[i])) << "step " << i;
    EXPECT_NEAR(lg[i], lc[i], rtol * std::abs(lc[i]) + 1e-5) << "step " << i << ": cuda " << lg[i]
                                                              << " vs cpu " << lc[i];
  }
  EXPECT_LT(lc.back(), lc.front()) << "cpu loss did not decrease";
  EXPECT_LT(lg.back(), lg.front()) << "cuda loss did not decrease";
}

// One bf16-autocast training step on the GPU: runs, finite loss, parameters change.
void expect_autocast_step(const MakeModel& make, const MakeOpt& make_opt, const LossFn& loss_fn,
                          const Tensor& x_cpu, const Tensor& y_cpu) {
  manual_seed(0);
  nn::ModulePtr m = make();
  m->to(kCuda);
  m->train();
  auto opt = make_opt(*m);
  Tensor before = clone(m->parameters().front().detach().to(kCPU));
  Tensor x = x_cpu.to(kCuda), y = y_cpu.to(kCuda);
  opt->zero_grad();
  Tensor loss;
  {
    AutocastGuard ac(DeviceType::cuda, DType::bf16);
    loss = loss_fn(*m, x, y);
  }
  loss.backward();
  opt->step();
  EXPECT_TRUE(std::isfinite(loss_value(loss)));
  Tensor p0 = m->parameters().front();
  EXPECT_EQ(p0.dtype(), DType::f32) << "parameters stay f32 under autocast";
  ASSERT_TRUE(p0.grad().defined());
  EXPECT_FALSE(close(p0.detach().to(kCPU), before, 0, 0)) << "the step changed nothing";
}

MakeOpt sgd(double lr) {
  return [lr](nn::Module& m) -> std::unique_ptr<optim::Optimizer> {
    return std::make_unique<optim::SGD>(m.parameters(), optim::SGDOptions{.lr = lr, .momentum = 0.9});
  };
}
MakeOpt adamw(double lr) {
  return [lr](nn::Module& m) -> std::unique_ptr<optim::Optimizer> {
    optim::AdamOptions o = optim::AdamW::with_default_decay();
    o.lr = lr;
    return std::make_unique<optim::AdamW>(m.parameters(), o);
  };
}

// The last output is the logits (Bert's forward_list returns the sequence, pooled, logits).
Tensor classify(nn::Module& m, const Tensor& x, const Tensor& y) { return cross_entropy(m.call({x}).back(), y); }

// Next-token loss over (N, T) ids: logits (N, T, V) against the ids shifted by one.
Tensor lm_loss(nn::Module& m, const Tensor& ids, const Tensor& /*unused*/) {
  const int64_t n = ids.size(0), t = ids.size(1) - 1;
  Tensor in = contiguous(slice(ids, 1, 0, t)), tgt = contiguous(slice(ids, 1, 1, t + 1));
  Tensor logits = m(in);
  return cross_entropy(reshape(logits, {n * t, logits.size(2)}), reshape(tgt, {n * t}));
}

// ---- models ----

MakeModel mlp() {
  return [] {
    models::MLPConfig c;
    c.in_features = 20;
    c.hidden = {32, 16};
    c.out_features = 5;
    return std::make_shared<models::MLP>(c);
  };
}
MakeModel small_cnn() {
  return [] { return std::make_shared<models::SmallCNN>(); };
}
MakeModel resnet18_small() {
  return [] {
    models::ResNetConfig c;
    c.depth = 18;
    c.stem = "small";
    c.in_channels = 1;
    c.num_classes = 10;
    c.width = 16;
    return std::make_shared<models::ResNet>(c);
  };
}
MakeModel tiny_gpt() {
  return [] {
    models::GPTConfig c;
    c.vocab_size = 97;
    c.max_position = 16;
    c.dim = 32;
    c.num_layers = 2;
    c.num_heads = 4;
    c.dropout = 0.0;
    return std::make_shared<models::GPT>(c);
  };
}
MakeModel tiny_bert() {
  return [] {
    models::BertConfig c;
    c.vocab_size = 101;
    c.hidden_size = 32;
    c.num_layers = 2;
    c.num_heads = 4;
    c.intermediate_size = 64;
    c.max_position = 16;
    c.dropout = 0.0;
    c.num_labels = 3;  // forward(ids) -> classification logits from the pooled first token
    return std::make_shared<models::Bert>(c);
  };
}

TEST(CudaModels, MLPTrainsAsOnCpu) {
  DS_REQUIRE_CUDA();
  manual_seed(42);
  expect_same_training(mlp(), sgd(0.05), classify, randn({16, 20}), randint(0, 5, {16}));
}

TEST(CudaModels, SmallCNNTrainsAsOnCpu) {
  DS_REQUIRE_CUDA();
  manual_seed(42);
  expect_same_training(small_cnn(), sgd(0.02), classify, randn({8, 1, 28, 28}), randint(0, 10, {8}));
}

TEST(CudaModels, ResNet18SmallStemTrainsAsOnCpu) {
  DS_REQUIRE_CUDA();
  manual_seed(42);
  expect_same_training(resnet18_small(), sgd(0.02), classify, randn({4, 1, 28, 28}), randint(0, 10, {4}),
                       2e-3);
}

TEST(CudaModels, TinyGPTTrainsAsOnCpu) {
  DS_REQUIRE_CUDA();
  manual_seed(42);
  Tensor ids = randint(0, 97, {4, 13});
  expect_same_training(tiny_gpt(), adamw(1e-3), lm_loss, ids, ids);
}

TEST(CudaModels, TinyBertTrainsAsOnCpu) {
  DS_REQUIRE_CUDA();
  manual_seed(42);
  expect_same_training(tiny_bert(), adamw(1e-3), classify, randint(0, 101, {4, 12}), randint(0, 3, {4}));
}

TEST(CudaModels, AutocastBf16TrainingStep) {
  DS_REQUIRE_CUDA();
  manual_seed(42);
  {
    SCOPED_TRACE("resnet18 small stem");
    expect_autocast_step(resnet18_small(), sgd(0.02), classify, randn({4, 1, 28, 28}), randint(0, 10, {4}));
  }
  {
    SCOPED_TRACE("tiny gpt");
    Tensor ids = randint(0, 97, {4, 13});
    expect_autocast_step(tiny_gpt(), adamw(1e-3), lm_loss, ids, ids);
  }
  {
    SCOPED_TRACE("tiny bert");
    expect_autocast_step(tiny_bert(), adamw(1e-3), classify, randint(0, 101, {4, 12}), randint(0, 3, {4}));
  }
}

}  // namespace
}  // namespace deepseek::testing
