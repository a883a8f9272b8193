// channels_last (NHWC) on CUDA against NCHW on the CPU: conv2d (forward, grad_input,
// grad_weight), batch_norm (training and eval, fused backward), max_pool2d and
// adaptive_avg_pool2d (+ backward), in f32 and bf16, checking that every CUDA output and
// gradient stays channels_last (no layout copies on the ResNet path); and a small
// conv/bn/relu/add/pool network trained one SGD step in NHWC on CUDA vs NCHW on the CPU.
#include "deepseek/nn/nn.h"
#include "deepseek/optim/sgd.h"
#include "tests/cuda/compare_util.h"

namespace deepseek::testing {
namespace {

constexpr auto kCL = MemoryFormat::channels_last;

// Dense in NHWC order (a tensor with 1x1 spatial size is both layouts at once).
bool is_cl(const Tensor& t) { return t.is_contiguous(kCL); }

Tol tol_of(DType t) { return t == DType::bf16 ? Tol{5e-2, 5e-2} : Tol{2e-3, 2e-3}; }

// f32 convolutions in true f32 while compared with f64 (cuDNN may otherwise pick TF32
// engines, as PyTorch's default allows: about 1e-3 relative error per product).
struct NoTf32 {
  bool previous = conv_allow_tf32();
  NoTf32() { set_conv_allow_tf32(false); }
  ~NoTf32() { set_conv_allow_tf32(previous); }
};

// f on NCHW f64 CPU inputs (rounded to dt first, so both sides see the same values: the
// reference) and on NHWC `dt` CUDA copies (inputs marked in cl); compares outputs and
// gradients of every input; every 4-D CUDA output and gradient of an NHWC input must be
// channels_last.
void check(const std::function<std::vector<Tensor>(const std::vector<Tensor>&)>& f, const std::vector<Tensor>& in,
           const std::vector<bool>& cl, DType dt, const std::string& what) {
  NoTf32 exact;
  auto run = [&](Device dev, DType t, bool nhwc) {
    std::vector<Tensor> leaves, args;
    for (size_t i = 0; i < in.size(); ++i) {
      Tensor l = in[i].to(dt).to(t).to(dev);  // both sides see the same rounded values
      if (nhwc && cl[i]) l = l.contiguous(kCL);
      l = l.detach().requires_grad_(true);
      leaves.push_back(l);
      args.push_back(l);
    }
    std::vector<Tensor> outs = f(args);
    Tensor loss;
    for (auto& o : outs) {
      // in the output's layout, so the gradient reaching the op has that layout (as in a
      // channels_last network, where the next op's backward produces it)
      // (values exact in dt, so the gradient reaching the op is the same on both sides)
      Tensor wgt = sin(arange(0, static_cast<double>(o.numel()), 1, {DType::f32})).reshape(o.sizes()).to(dt).to(DType::f32).to(dev);
      if (o.dim() == 4) wgt = contiguous(wgt, suggest_memory_format(o));
      Tensor l = sum(mul(o.to(DType::f32), wgt));
      loss = loss.defined() ? add(loss, l) : l;
    }
    loss.backward();
    std::vector<Tensor> grads;
    for (auto& l : leaves) grads.push_back(l.grad());
    return std::make_pair(outs, grads);
  };
  auto [ref, ref_g] = run(kCPU, DType::f64, false);
  auto [got, got_g] = run(kCuda, dt, true);
  Tol t = tol_of(dt);
  for (size_t i = 0; i < ref.size(); ++i) {
    EXPECT_TRUE(close(got[i].to(kCPU).to(DType::f64), ref[i], t.rtol, t.atol)) << what << " output " << i;
    if (got[i].dim() == 4 && got[i].sizes()[1] > 1) EXPECT_TRUE(is_cl(got[i])) << what << " output " << i;
  }
  for (size_t i = 0; i < ref_g.size(); ++i) {
    ASSERT_TRUE(got_g[i].defined()) << what << " grad " << i;
    EXPECT_TRUE(close(got_g[i].to(kCPU).to(DType::f64), ref_g[i], t.rtol, t.atol)) << what << " grad " << i;
    if (cl[i] && got_g[i].dim() == 4) EXPECT_TRUE(is_cl(got_g[i])) << what << " grad " << i;
  }
}

const std::vector<DType> kTypes = {DType::f32, DType::bf16};

TEST(CudaChannelsLast, Conv2d) {
  DS_REQUIRE_CUDA();
  for (DType dt : kTypes) {
    Tensor x = randn({2, 16, 9, 10}), w = mul(randn({32, 16, 3, 3}), 0.2), b = randn({32});
    check([](auto& in) { return std::vector<Tensor>{conv2d(in[0], in[1], in[2], {2, 2}, {1, 1})}; }, {x, w, b},
          {true, true, false}, dt, std::string("3x3 s2 ") + dtype_name(dt));
    Tensor w1 = mul(randn({8, 16, 1, 1}), 0.2);
    check([](auto& in) { return std::vector<Tensor>{conv2d(in[0], in[1])}; }, {x, w1}, {true, true}, dt,
          std::string("1x1 ") + dtype_name(dt));
    // input NHWC, weight NCHW (a model not converted): still NHWC out and grad_input
    check([](auto& in) { return std::vector<Tensor>{conv2d(in[0], in[1], {}, {1, 1}, {1, 1})}; }, {x, w},
          {true, false}, dt, std::string("mixed ") + dtype_name(dt));
    // the ResNet stem: 3 input channels, 7x7 stride 2
    Tensor xs = randn({2, 3, 20, 20}), ws = mul(randn({16, 3, 7, 7}), 0.1);
    check([](auto& in) { return std::vector<Tensor>{conv2d(in[0], in[1], {}, {2, 2}, {3, 3})}; }, {xs, ws},
          {true, true}, dt, std::string("stem ") + dtype_name(dt));
  }
}

TEST(CudaChannelsLast, BatchNorm) {
  DS_REQUIRE_CUDA();
  for (DType dt : kTypes) {
    for (Shape s : {Shape{4, 64, 7, 5}, Shape{2, 6, 5, 3}, Shape{8, 256, 4, 4}, Shape{3, 130, 3, 3}}) {
      int64_t c = s[1];
      Tensor x = add(mul(randn(s), 2.0), 3.0), w = add(rand({c}), 0.5), b = randn({c});
      check([](auto& in) { return std::vector<Tensor>{batch_norm(in[0], in[1], in[2], {}, {}, true)}; }, {x, w, b},
            {true, false, false}, dt, std::string("train ") + dtype_name(dt) + " " + to_string(s));
      Tensor rm = randn({c}), rv = add(rand({c}), 0.5);
      check([&](auto& in) {
        return std::vector<Tensor>{batch_norm(in[0], in[1], in[2], rm.to(in[0].device()), rv.to(in[0].device()), false)};
      }, {x, w, b}, {true, false, false}, dt, std::string("eval ") + dtype_name(dt) + " " + to_string(s));
    }
  }
  // running statistics updated from an NHWC input as from NCHW
  Tensor x = randn({4, 32, 6, 6});
  Tensor rm_c = zeros({32}), rv_c = ones({32});
  batch_norm(x, ones({32}), zeros({32}), rm_c, rv_c, true);
  Tensor rm_g = zeros({32}, {DType::f32, kCuda}), rv_g = ones({32}, {DType::f32, kCuda});
  Tensor y = batch_norm(x.to(kCuda).contiguous(kCL), ones({32}, {DType::f32, kCuda}), zeros({32}, {DType::f32, kCuda}),
                        rm_g, rv_g, true);
  EXPECT_TRUE(is_cl(y));
  EXPECT_TRUE(close(rm_g.to(kCPU), rm_c, 1e-5, 1e-5));
  EXPECT_TRUE(close(rv_g.to(kCPU), rv_c, 1e-5, 1e-5));
}

TEST(CudaChannelsLast, Pooling) {
  DS_REQUIRE_CUDA();
  for (DType dt : kTypes) {
    Tensor x = randn({2, 64, 11, 12});
    check([](auto& in) { return std::vector<Tensor>{max_pool2d(in[0], {3, 3}, {2, 2}, {1, 1})}; }, {x}, {true}, dt,
          std::string("max ") + dtype_name(dt));
    for (std::vector<int64_t> o : {std::vector<int64_t>{1, 1}, {3, 4}}) {
      check([o](auto& in) { return std::vector<Tensor>{adaptive_avg_pool2d(in[0], o)}; }, {x}, {true}, dt,
            std::string("adaptive ") + dtype_name(dt));
    }
  }
}

// conv -> bn -> relu -> conv -> bn -> add -> relu -> maxpool -> avgpool -> linear, one SGD step.
TEST(CudaChannelsLast, SmallResNetStep) {
  DS_REQUIRE_CUDA();
  using namespace nn;
  struct Net : Module {
    std::shared_ptr<Conv2d> c1, c2;
    std::shared_ptr<BatchNorm2d> b1, b2;
    std::shared_ptr<Linear> fc;
    Net() : Module("Net") {
      c1 = register_module("c1", std::make_shared<Conv2d>(16, 16, 3, 1, 1, false));
      b1 = register_module("b1", std::make_shared<BatchNorm2d>(16));
      c2 = register_module("c2", std::make_shared<Conv2d>(16, 16, 1, 1, 0, false));
      b2 = register_module("b2", std::make_shared<BatchNorm2d>(16));
      fc = register_module("fc", std::make_shared<Linear>(16, 5));
    }
    Tensor forward(const Tensor& x) override {
      Tensor h = relu((*b1)((*c1)(x)));
      h = relu(add((*b2)((*c2)(h)), x));
      return (*fc)(adaptive_avg_pool2d(max_pool2d(h, {2, 2}), {1, 1}).flatten(1));
    }
  };
  NoTf32 exact;
  manual_seed(3);
  auto cpu = std::make_shared<Net>(), gpu = std::make_shared<Net>();
  gpu->load_state_dict(cpu->state_dict());
  gpu->to(kCuda);
  gpu->to(kCL);
  optim::SGD oc(cpu->parameters(), {.lr = 0.1, .momentum = 0.9}), og(gpu->parameters(), {.lr = 0.1, .momentum = 0.9});
  Tensor x = randn({4, 16, 8, 8});
  for (int step = 0; step < 2; ++step) {
    Tensor yc = (*cpu)(x), yg = (*gpu)(x.to(kCuda).contiguous(kCL));
    EXPECT_TRUE(close(yg.to(kCPU), yc, 1e-3, 1e-3)) << step;
    oc.zero_grad();
    og.zero_grad();
    sum(mul(yc, yc)).backward();
    sum(mul(yg, yg)).backward();
    for (auto& p : gpu->parameters())
      if (p.dim() == 4 && p.sizes()[2] > 1) EXPECT_TRUE(is_cl(p.grad()));
    oc.step();
    og.step();
  }
  auto pc = cpu->parameters(), pg = gpu->parameters();
  for (size_t i = 0; i < pc.size(); ++i) EXPECT_TRUE(close(pg[i].to(kCPU), pc[i], 1e-3, 1e-3)) << i;
}

}  // namespace
}  // namespace deepseek::testing
