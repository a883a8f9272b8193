// cuBLASLt matrix products and cuDNN convolutions against the CPU (oneDNN / OpenBLAS), forward
// and backward, plus autocast's casting policy.
#include "deepseek/core/accelerator.h"
#include "deepseek/ops/autocast.h"
#include "tests/cuda/cuda_test_util.h"

namespace deepseek::testing {
namespace {

Tensor rnd(const Shape& s, DType t = DType::f32) { return randn(s).to(t); }

TEST(CudaMatmul, ShapesTransposesBatchesAndDtypes) {
  DS_REQUIRE_CUDA();
  for (DType t : {DType::f32, DType::f64, DType::f16, DType::bf16}) {
    SCOPED_TRACE(dtype_name(t));
    Tol tl = tol_for(t);
    double rt = std::max(tl.rtol, 1e-4) * 4, at = std::max(tl.atol, 1e-4) * 8;
    auto run = [&](auto f, std::vector<Tensor> xs) { expect_cuda_matches_cpu(f, xs, rt, at); };
    run([](auto& in) { return std::vector<Tensor>{mm(in[0], in[1])}; }, {rnd({33, 65}, t), rnd({65, 17}, t)});
    run([](auto& in) { return std::vector<Tensor>{mm(in[0].t(), in[1])}; }, {rnd({65, 33}, t), rnd({65, 17}, t)});
    run([](auto& in) { return std::vector<Tensor>{mm(in[0], in[1].t())}; }, {rnd({33, 65}, t), rnd({17, 65}, t)});
    run([](auto& in) { return std::vector<Tensor>{bmm(in[0], in[1])}; }, {rnd({4, 9, 31}, t), rnd({4, 31, 12}, t)});
    run([](auto& in) { return std::vector<Tensor>{matmul(in[0], in[1])}; }, {rnd({2, 3, 9, 31}, t), rnd({31, 12}, t)});
    run([](auto& in) { return std::vector<Tensor>{matmul(in[0], in[1])}; }, {rnd({9, 31}, t), rnd({2, 31, 12}, t)});
    run([](auto& in) { return std::vector<Tensor>{matmul(in[0], in[1])}; }, {rnd({2, 1, 9, 31}, t), rnd({3, 31, 5}, t)});
    run([](auto& in) { return std::vector<Tensor>{matmul(in[0], in[1])}; }, {rnd({31}, t), rnd({31, 5}, t)});
    run([](auto& in) { return std::vector<Tensor>{linear(in[0], in[1], in[2])}; },
        {rnd({2, 7, 40}, t), rnd({24, 40}, t), rnd({24}, t)});
    run([](auto& in) { return std::vector<Tensor>{linear(in[0], in[1])}; }, {rnd({40}, t), rnd({24, 40}, t)});
    run([](auto& in) { return std::vector<Tensor>{addmm(in[0], in[1], in[2], 0.5, 2.0)}; },
        {rnd({1, 6}, t), rnd({5, 8}, t), rnd({8, 6}, t)});
    run([](auto& in) { return std::vector<Tensor>{mm(in[0], in[1])}; }, {rnd({0, 5}, t), rnd({5, 3}, t)});
    run([](auto& in) { return std::vector<Tensor>{mm(in[0], in[1])}; }, {rnd({4, 0}, t), rnd({0, 3}, t)});
  }
}

TEST(CudaMatmul, Tf32IsOptIn) {
  DS_REQUIRE_CUDA();
  Tensor a = rnd({256, 256}), b = rnd({256, 256});
  Tensor ref = mm(a.to(DType::f64), b.to(DType::f64));
  EXPECT_TRUE(close(mm(a.to(kCuda), b.to(kCuda)).to(kCPU), ref.to(DType::f32), 1e-4, 1e-4));
  set_float32_matmul_precision("high");
  Tensor tf = mm(a.to(kCuda), b.to(kCuda)).to(kCPU);
  set_float32_matmul_precision("highest");
  EXPECT_TRUE(close(tf, ref.to(DType::f32), 2e-2, 5e-2));
}

TEST(CudaMatmul, Gradients) {
  DS_REQUIRE_CUDA();
  expect_cuda_grads_match_cpu([](auto& in) { return linear(in[0], in[1], in[2]); },
                              {rnd({3, 5, 16}), rnd({8, 16}), rnd({8})}, 1e-4, 1e-4);
  expect_cuda_grads_match_cpu([](auto& in) { return matmul(in[0], in[1]); }, {rnd({2, 6, 16}), rnd({16, 7})}, 1e-4, 1e-4);
}

TEST(CudaConv, ForwardBackwardConfigs) {
  DS_REQUIRE_CUDA();
  struct Cfg {
    Shape x, w;
    std::vector<int64_t> stride, padding, dilation;
    int64_t groups;
    bool bias;
  };
  std::vector<Cfg> cfgs = {
      {{2, 3, 17, 15}, {8, 3, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 1, true},
      {{2, 4, 16, 16}, {6, 2, 3, 3}, {2, 2}, {0, 1}, {1, 1}, 2, false},
      {{1, 8, 12, 12}, {8, 1, 5, 5}, {1, 1}, {2, 2}, {1, 1}, 8, true},  // depthwise
      {{2, 3, 20, 20}, {4, 3, 3, 3}, {1, 2}, {2, 1}, {2, 2}, 1, true},  // dilation
      {{4, 16, 7, 7}, {32, 16, 1, 1}, {1, 1}, {0, 0}, {1, 1}, 1, false},
  };
  for (auto& c : cfgs) {
    expect_cuda_grads_match_cpu(
        [&](auto& in) {
          return conv2d(in[0], in[1], c.bias ? in[2] : Tensor(), c.stride, c.padding, c.dilation, c.groups);
        },
        {rnd(c.x), rnd(c.w), rnd({c.w[0]})}, 1e-4, 1e-4);
  }
  // 'same' padding with an even kernel pads asymmetrically
  expect_cuda_grads_match_cpu([](auto& in) { return conv2d(in[0], in[1], in[2], {1, 1}, std::string("same")); },
                              {rnd({2, 3, 9, 9}), rnd({5, 3, 4, 4}), rnd({5})}, 1e-4, 1e-4);
  expect_cuda_grads_match_cpu([](auto& in) { return conv1d(in[0], in[1], in[2], 2, 1); },
                              {rnd({2, 4, 30}), rnd({6, 4, 5}), rnd({6})}, 1e-4, 1e-4);
  expect_cuda_grads_match_cpu(
      [](auto& in) { return conv_transpose2d(in[0], in[1], in[2], {2, 2}, {1, 1}, {1, 1}); },
      {rnd({2, 4, 7, 7}), rnd({4, 3, 3, 3}), rnd({3})}, 1e-4, 1e-4);
  // half precision forward
  for (DType t : {DType::f16, DType::bf16}) {
    expect_cuda_matches_cpu([](auto& in) { return std::vector<Tensor>{conv2d(in[0], in[1], in[2], {1, 1}, {1, 1})}; },
                            {rnd({2, 8, 10, 10}, t), rnd({16, 8, 3, 3}, t), rnd({16}, t)}, 3e-2, 3e-2);
  }
}

TEST(CudaAutocast, LowerPrecisionForProductsF32ForReductions) {
  DS_REQUIRE_CUDA();
  Tensor a = rnd({16, 32}).to(kCuda).requires_grad_(), w = rnd({8, 32}).to(kCuda).requires_grad_();
  Tensor y, s;
  {
    AutocastGuard ac(DeviceType::cuda, DType::bf16);
    y = linear(a, w);
    s = softmax(y, -1);
  }
  EXPECT_EQ(y.dtype(), DType::bf16);
  EXPECT_EQ(s.dtype(), DType::f32);
  Tensor ref = softmax(linear(a.detach().to(kCPU), w.detach().to(kCPU)), -1);
  EXPECT_TRUE(close(s.to(kCPU), ref, 3e-2, 3e-2));
  sum(s).backward();
  EXPECT_EQ(a.grad().dtype(), DType::f32);  // gradients reach the f32 leaves
  EXPECT_EQ(w.grad().dtype(), DType::f32);
  // CPU tensors are untouched by a CUDA autocast region
  AutocastGuard ac(DeviceType::cuda, DType::f16);
  EXPECT_EQ(linear(rnd({4, 8}), rnd({3, 8})).dtype(), DType::f32);
}

}  // namespace
}  // namespace deepseek::testing

#include "deepseek/optim/adam.h"
#include "deepseek/optim/sgd.h"

namespace deepseek::testing {
namespace {

// The fused multi-tensor AdamW on CUDA follows the op-by-op CPU path.
TEST(CudaOptim, FusedAdamWMatchesCpu) {
  DS_REQUIRE_CUDA();
  manual_seed(2);
  std::vector<Tensor> cpu_params, gpu_params;
  for (Shape s : std::vector<Shape>{{7, 5}, {100003}, {3}, {64, 64}}) {
    Tensor p = randn(s);
    cpu_params.push_back(p.clone().requires_grad_());
    gpu_params.push_back(p.to(kCuda).requires_grad_());
  }
  for (bool decoupled : {true, false}) {
    optim::AdamOptions o;
    o.lr = 1e-2;
    o.weight_decay = 0.1;
    std::unique_ptr<optim::Optimizer> oc, og;
    if (decoupled) {
      oc = std::make_unique<optim::AdamW>(cpu_params, o);
      og = std::make_unique<optim::AdamW>(gpu_params, o);
    } else {
      oc = std::make_unique<optim::Adam>(cpu_params, o);
      og = std::make_unique<optim::Adam>(gpu_params, o);
    }
    for (int step = 0; step < 5; ++step) {
      for (size_t i = 0; i < cpu_params.size(); ++i) {
        Tensor g = randn(cpu_params[i].sizes());
        cpu_params[i].set_grad(g);
        gpu_params[i].set_grad(g.to(kCuda));
      }
      oc->step();
      og->step();
    }
    for (size_t i = 0; i < cpu_params.size(); ++i)
      EXPECT_TRUE(close(gpu_params[i].detach().to(kCPU), cpu_params[i].detach(), 1e-5, 1e-6)) << i;
  }
}

// The fused multi-tensor SGD on CUDA follows the op-by-op CPU path: Nesterov with weight decay,
// dampened momentum, maximize, and no momentum; a channels_last weight keeps its layout.
TEST(CudaOptim, FusedSgdMatchesCpu) {
  DS_REQUIRE_CUDA();
  manual_seed(3);
  std::vector<optim::SGDOptions> cases{{.lr = 0.1, .momentum = 0.9, .weight_decay = 5e-4, .nesterov = true},
                                       {.lr = 0.05, .momentum = 0.8, .dampening = 0.3},
                                       {.lr = 0.05, .momentum = 0.5, .maximize = true},
                                       {.lr = 0.2, .weight_decay = 0.1}};
  for (size_t c = 0; c < cases.size(); ++c) {
    SCOPED_TRACE(c);
    std::vector<Tensor> cpu_params, gpu_params;
    for (Shape s : std::vector<Shape>{{7, 5}, {100003}, {3}, {8, 3, 3, 3}}) {
      Tensor p = randn(s);
      cpu_params.push_back(p.clone().requires_grad_());
      Tensor g = p.to(kCuda);
      if (s.size() == 4) g = g.contiguous(MemoryFormat::channels_last);
      gpu_params.push_back(g.requires_grad_());
    }
    optim::SGD oc(cpu_params, cases[c]), og(gpu_params, cases[c]);
    for (int step = 0; step < 4; ++step) {
      for (size_t i = 0; i < cpu_params.size(); ++i) {
        Tensor g = randn(cpu_params[i].sizes());
        cpu_params[i].set_grad(g);
        gpu_params[i].set_grad(g.to(kCuda));
      }
      oc.step();
      og.step();
    }
    for (size_t i = 0; i < cpu_params.size(); ++i) {
      EXPECT_TRUE(close(gpu_params[i].detach().to(kCPU), cpu_params[i].detach(), 1e-5, 1e-6)) << i;
      EXPECT_EQ(gpu_params[i].dim() == 4, gpu_params[i].is_contiguous(MemoryFormat::channels_last)) << i;
    }
  }
}

}  // namespace
}  // namespace deepseek::testing
