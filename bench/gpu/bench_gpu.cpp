// bench_gpu: the GPU workloads of the CUDA issue, one subcommand each, one JSON line each on
// stdout (bench/gpu/run.sh runs them beside bench/gpu/torch_ref.py, which prints the same
// keys for PyTorch, and writes bench/results/gpu-h200.json).
//
//   bench_gpu matmul_bf16 [--n 8192] [--iters 20]
//   bench_gpu elementwise [--gib 1] [--iters 20]
//   bench_gpu attention [--batch 16] [--heads 12] [--seq 1024] [--dim 64] [--causal 1] [--iters 20]
//   bench_gpu resnet50 [--batch 256] [--steps 20] [--warmup 5] [--image 224] [--channels-last]
//   bench_gpu gpt2 [--batch 16] [--seq 1024] [--steps 10] [--warmup 3] [--dropout 0]
//   bench_gpu bert [--batch 32] [--seq 512] [--steps 10] [--warmup 3] [--dropout 0.1]
//   bench_gpu resnet18_fmnist [--epochs 30] [--batch 128] [--lr 0.1] [--wd 5e-4] [--data DIR] [--f32]
//
// Timing: warm-up steps, cuda_synchronize, wall clock (std::chrono), the timed steps,
// cuda_synchronize, wall clock. TF32: matmul precision "highest" (true f32 products) and cuDNN
// convolutions with TF32 allowed — PyTorch's defaults, which torch_ref.py sets explicitly.
// Exit status 2 when no CUDA device is available. `--device cpu` runs any of them on the CPU
// instead (a smoke test of the code paths with small sizes).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "deepseek/autograd/grad_mode.h"
#include "deepseek/core/accelerator.h"
#include "deepseek/core/allocator.h"
#include "deepseek/data/dataloader.h"
#include "deepseek/data/datasets/fashion_mnist.h"
#include "deepseek/data/transforms.h"
#include "deepseek/models/bert.h"
#include "deepseek/models/gpt.h"
#include "deepseek/models/resnet.h"
#include "deepseek/nn/nn.h"
#include "deepseek/ops/autocast.h"
#include "deepseek/ops/ops.h"
#include "deepseek/optim/adam.h"
#include "deepseek/optim/scheduler.h"
#include "deepseek/optim/sgd.h"

using namespace deepseek;
using json = nlohmann::json;

namespace {

// The device the workloads run on: cuda:0, or the CPU with --device cpu (a smoke test of the
// code paths with small sizes on a machine without a GPU).
Device kGpu{DeviceType::cuda, 0};
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// --key value arguments (a flag without a value, such as --f32, reads as "1").
struct Args {
  std::map<std::string, std::string> kv;
  Args(int argc, char** argv, int first) {
    for (int i = first; i < argc; ++i) {
      std::string k = argv[i];
      if (k.rfind("--", 0) != 0) {
        std::fprintf(stderr, "bench_gpu: unexpected argument '%s'\n", argv[i]);
        std::exit(1);
      }
      k = k.substr(2);
      if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) kv[k] = argv[++i];
      else kv[k] = "1";
    }
  }
  int64_t i(const std::string& k, int64_t d) const {
    auto it = kv.find(k);
    return it == kv.end() ? d : std::stoll(it->second);
  }
  double f(const std::string& k, double d) const {
    auto it = kv.find(k);
    return it == kv.end() ? d : std::stod(it->second);
  }
  std::string s(const std::string& k, const std::string& d) const {
    auto it = kv.find(k);
    return it == kv.end() ? d : it->second;
  }
  bool flag(const std::string& k) const { return kv.count(k) && kv.at(k) != "0"; }
};

void sync() {
  if (kGpu.is_cuda()) cuda_synchronize(0);
}

void add_memory(json& j) {
  MemoryStats st = memory_stats(kGpu);
  j["peak_allocated_gib"] = st.peak_allocated / kGiB;
  // cudaMallocAsync pool's reserved bytes now (the pool keeps what it took: release threshold
  // raised), the closest we have to PyTorch's max_memory_reserved.
  j["reserved_gib"] = st.reserved / kGiB;
}

void emit(json j) {
  j["device"] = kGpu.str();
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
}

// ---- matmul ----
int matmul_bf16(const Args& a) {
  const int64_t n = a.i("n", 8192), iters = a.i("iters", 20);
  manual_seed(0);
  Tensor x = randn({n, n}, {DType::f32, kGpu}).to(DType::bf16);
  Tensor y = randn({n, n}, {DType::f32, kGpu}).to(DType::bf16);
  for (int i = 0; i < 3; ++i) (void)mm(x, y);
  sync();
  auto t0 = Clock::now();
  Tensor z;
  for (int64_t i = 0; i < iters; ++i) z = mm(x, y);
  sync();
  double s = seconds_since(t0);
  double tflops = 2.0 * n * n * n * iters / s / 1e12;
  emit({{"bench", "matmul_bf16"}, {"impl", "deepseek"}, {"n", n}, {"iters", iters},
        {"time_per_mm_ms", 1e3 * s / iters}, {"tflops", tflops}});
  return 0;
}

// ---- attention ----
// scaled_dot_product_attention forward and forward+backward, (batch, heads, seq, dim) in bf16;
// TFLOP/s counts the matmul work (4 b h L^2 d forward, 2.5x that for forward+backward), halved
// when causal, as FlashAttention's benchmarks do.
int attention(const Args& a) {
  const int64_t b = a.i("batch", 16), h = a.i("heads", 12), l = a.i("seq", 1024), d = a.i("dim", 64);
  const int64_t iters = a.i("iters", 20);
  const bool causal = a.i("causal", 1) != 0;
  manual_seed(0);
  auto input = [&] { return randn({b, h, l, d}, {DType::f32, kGpu}).to(DType::bf16).requires_grad_(true); };
  Tensor q = input(), k = input(), v = input();
  Tensor dout = randn({b, h, l, d}, {DType::f32, kGpu}).to(DType::bf16);
  auto time_it = [&](bool with_backward) {
    auto once = [&] {
      if (with_backward) {
        Tensor o = scaled_dot_product_attention(q, k, v, {}, 0.0, causal);
        o.backward(dout);
      } else {
        autograd::NoGradGuard ng;
        (void)scaled_dot_product_attention(q, k, v, {}, 0.0, causal);
      }
    };
    for (int i = 0; i < 3; ++i) once();
    sync();
    auto t0 = Clock::now();
    for (int64_t i = 0; i < iters; ++i) once();
    sync();
    return seconds_since(t0) / iters;
  };
  double fwd = time_it(false), fwdbwd = time_it(true);
  double flop = 4.0 * b * h * l * l * d * (causal ? 0.5 : 1.0);
  emit({{"bench", "attention"}, {"impl", "deepseek"}, {"batch", b}, {"heads", h}, {"seq", l}, {"dim", d},
        {"causal", causal}, {"fwd_ms", 1e3 * fwd}, {"fwd_bwd_ms", 1e3 * fwdbwd}, {"fwd_tflops", flop / fwd / 1e12},
        {"fwd_bwd_tflops", 3.5 * flop / fwdbwd / 1e12}});
  return 0;
}

// ---- elementwise ----
int elementwise(const Args& a) {
  const double gib = a.f("gib", 1.0);
  const int64_t iters = a.i("iters", 20);
  const int64_t n = static_cast<int64_t>(gib * kGiB / 4);
  Tensor x = rand({n}, {DType::f32, kGpu}), y = rand({n}, {DType::f32, kGpu});
  auto run = [&](bool is_add) {
    Tensor z;
    for (int i = 0; i < 3; ++i) z = is_add ? add(x, y) : mul(x, y);
    sync();
    auto t0 = Clock::now();
    for (int64_t i = 0; i < iters; ++i) {
      z = Tensor();  // free the previous output first (as `c = a + b` in a loop in Python)
      z = is_add ? add(x, y) : mul(x, y);
    }
    sync();
    double s = seconds_since(t0) / iters;
    return 3.0 * n * 4 / s / 1e12;  // read a, read b, write c
  };
  double add_tbps = run(true), mul_tbps = run(false);
  emit({{"bench", "elementwise"}, {"impl", "deepseek"}, {"gib", gib}, {"iters", iters},
        {"add_tbps", add_tbps}, {"mul_tbps", mul_tbps}});
  return 0;
}

// ---- model training loops ----
struct StepTiming {
  double seconds = 0, last_loss = 0, first_loss = 0;
  int64_t steps = 0;
};

// Runs `warmup` then `steps` training steps of `step` (which returns the loss tensor).
template <typename F>
StepTiming time_steps(int64_t warmup, int64_t steps, F&& step) {
  StepTiming t;
  for (int64_t i = 0; i < warmup; ++i) {
    Tensor l = step();
    if (i == 0) t.first_loss = l.to(kCPU).to(DType::f32).item<float>();
  }
  sync();
  reset_peak_memory(kGpu);
  auto t0 = Clock::now();
  Tensor loss;
  for (int64_t i = 0; i < steps; ++i) loss = step();
  sync();
  t.seconds = seconds_since(t0);
  t.steps = steps;
  t.last_loss = loss.to(kCPU).to(DType::f32).item<float>();
  return t;
}

int resnet50(const Args& a) {
  const int64_t batch = a.i("batch", 256), steps = a.i("steps", 20), warmup = a.i("warmup", 5),
                image = a.i("image", 224);
  manual_seed(0);
  models::ResNetConfig cfg;
  cfg.depth = 50;
  auto model = std::make_shared<models::ResNet>(cfg);
  // --channels-last: model and input in NHWC, as PyTorch's model.to(memory_format=
  // torch.channels_last) and x.to(memory_format=torch.channels_last)
  const bool channels_last = a.flag("channels-last");
  model->to(kGpu);
  if (channels_last) model->to(MemoryFormat::channels_last);
  model->train();
  optim::SGD opt(model->parameters(), {.lr = 0.1, .momentum = 0.9});
  Tensor x = randn({batch, 3, image, image}, {DType::f32, kGpu});
  if (channels_last) x = x.contiguous(MemoryFormat::channels_last);
  Tensor y = randint(0, 1000, {batch}, {DType::i64, kGpu});
  auto step = [&] {
    opt.zero_grad();
    Tensor loss;
    {
      AutocastGuard ac(DeviceType::cuda, DType::bf16);
      loss = cross_entropy((*model)(x), y);
    }
    loss.backward();
    opt.step();
    return loss.detach();
  };
  StepTiming t = time_steps(warmup, steps, step);
  json j{{"bench", "resnet50"}, {"impl", "deepseek"}, {"batch", batch}, {"image", image},
         {"steps", steps}, {"warmup", warmup}, {"img_per_s", batch * steps / t.seconds},
         {"step_ms", 1e3 * t.seconds / steps}, {"amp", "bf16 autocast"}, {"channels_last", channels_last},
         {"optimizer", "SGD(lr=0.1, momentum=0.9)"}, {"first_loss", t.first_loss},
         {"last_loss", t.last_loss}};
  add_memory(j);
  emit(j);
  return 0;
}

int gpt2(const Args& a) {
  const int64_t batch = a.i("batch", 16), seq = a.i("seq", 1024), steps = a.i("steps", 10),
                warmup = a.i("warmup", 3);
  const double dropout = a.f("dropout", 0.0);
  manual_seed(0);
  models::GPTConfig cfg;  // GPT-2 small: 50257 tokens, 1024 positions, 768 wide, 12×12, tied
  cfg.dropout = dropout;
  auto model = std::make_shared<models::GPT>(cfg);
  const int64_t params = model->num_parameters();
  model->to(kGpu);
  model->train();
  optim::AdamOptions ao;
  ao.lr = 3e-4;
  ao.weight_decay = 0.01;  // torch.optim.AdamW's default
  optim::AdamW opt(model->parameters(), ao);
  Tensor tokens = randint(0, cfg.vocab_size, {batch, seq + 1}, {DType::i64, kGpu});
  Tensor ids = contiguous(slice(tokens, 1, 0, seq)), tgt = contiguous(slice(tokens, 1, 1, seq + 1));
  auto step = [&] {
    opt.zero_grad();
    Tensor loss;
    {
      AutocastGuard ac(DeviceType::cuda, DType::bf16);
      Tensor logits = (*model)(ids);
      loss = cross_entropy(reshape(logits, {batch * seq, cfg.vocab_size}), reshape(tgt, {batch * seq}));
    }
    loss.backward();
    opt.step();
    return loss.detach();
  };
  StepTiming t = time_steps(warmup, steps, step);
  json j{{"bench", "gpt2"}, {"impl", "deepseek"}, {"batch", batch}, {"seq", seq}, {"steps", steps},
         {"warmup", warmup}, {"params", params}, {"tokens_per_s", batch * seq * steps / t.seconds},
         {"step_ms", 1e3 * t.seconds / steps}, {"amp", "bf16 autocast"}, {"dropout", dropout},
         {"tied_embeddings", true}, {"optimizer", "AdamW(lr=3e-4, wd=0.01)"},
         {"attention", "nn::MultiheadAttention"},
         {"first_loss", t.first_loss}, {"last_loss", t.last_loss}};
  add_memory(j);
  emit(j);
  return 0;
}

// BERT-base with Hugging Face's MLM head (BertForMaskedLM): dense 768→768 + GELU + LayerNorm,
// decoder tied to the word embeddings plus a bias over the vocabulary. No pooler (as
// BertForMaskedLM). Logits at every position, loss at the 15% masked positions (labels -100
// elsewhere), as HF computes it.
class BertMLM : public nn::Module {
 public:
  BertMLM(models::BertConfig cfg) : nn::Module("BertMLM") {
    cfg.pooler = false;
    cfg.num_labels = 0;
    bert = register_module("bert", std::make_shared<models::Bert>(cfg));
    transform = register_module("transform", std::make_shared<nn::Linear>(cfg.hidden_size, cfg.hidden_size));
    norm = register_module("norm", std::make_shared<nn::LayerNorm>(Shape{cfg.hidden_size}, cfg.layer_norm_eps));
    decoder_bias = &register_parameter("decoder_bias", zeros({cfg.vocab_size}));
  }
  Tensor forward(const Tensor& ids) override {
    Tensor h = bert->forward_list({ids})[0];
    h = (*norm)(gelu((*transform)(h)));
    return linear(h, bert->word_embeddings->weight, *decoder_bias);  // as the reference's F.linear
  }
  std::shared_ptr<models::Bert> bert;
  std::shared_ptr<nn::Linear> transform;
  std::shared_ptr<nn::LayerNorm> norm;
  Tensor* decoder_bias;
};

int bert(const Args& a) {
  const int64_t batch = a.i("batch", 32), seq = a.i("seq", 512), steps = a.i("steps", 10),
                warmup = a.i("warmup", 3);
  const double dropout = a.f("dropout", 0.1);
  manual_seed(0);
  models::BertConfig cfg;  // BERT-base
  cfg.dropout = dropout;
  auto model = std::make_shared<BertMLM>(cfg);
  const int64_t params = model->num_parameters();
  model->to(kGpu);
  model->train();
  optim::AdamOptions ao;
  ao.lr = 1e-4;
  ao.weight_decay = 0.01;
  optim::AdamW opt(model->parameters(), ao);
  Tensor ids = randint(0, cfg.vocab_size, {batch, seq}, {DType::i64, kGpu});
  // Labels: the token at 15% of the positions, -100 (ignored) elsewhere.
  Tensor picked = lt(rand({batch, seq}, {DType::f32, kGpu}), Scalar(0.15));
  Tensor labels = where(picked, ids, full({batch, seq}, Scalar(int64_t(-100)), {DType::i64, kGpu}));
  auto step = [&] {
    opt.zero_grad();
    Tensor logits = (*model)(ids);
    Tensor loss = cross_entropy(reshape(logits, {batch * seq, cfg.vocab_size}),
                                reshape(labels, {batch * seq}), {}, -100);
    loss.backward();
    opt.step();
    return loss.detach();
  };
  StepTiming t = time_steps(warmup, steps, step);
  json j{{"bench", "bert"}, {"impl", "deepseek"}, {"batch", batch}, {"seq", seq}, {"steps", steps},
         {"warmup", warmup}, {"params", params}, {"seq_per_s", batch * steps / t.seconds},
         {"step_ms", 1e3 * t.seconds / steps}, {"dtype", "f32"}, {"tf32_matmul", false},
         {"dropout", dropout}, {"mlm", "logits at all positions, loss at 15% (labels -100 elsewhere)"},
         {"optimizer", "AdamW(lr=1e-4, wd=0.01)"},
         {"attention", "nn::MultiheadAttention"},
         {"first_loss", t.first_loss}, {"last_loss", t.last_loss}};
  add_memory(j);
  emit(j);
  return 0;
}

// ResNet-18 with the small-image stem (3×3 stride-1 conv, no max pool) on Fashion-MNIST:
// random crop 28 with padding 4 + horizontal flip, SGD momentum 0.9 nesterov, weight decay
// 5e-4, cosine schedule per step, bf16 autocast (--f32 to turn it off).
int resnet18_fmnist(const Args& a) {
  const int64_t epochs = a.i("epochs", 30), batch = a.i("batch", 128), workers = a.i("workers", 6);
  const double lr = a.f("lr", 0.1), wd = a.f("wd", 5e-4);
  const int64_t max_batches = a.i("max_batches", 0);  // > 0: per epoch and for the test (smoke test)
  const bool amp = !a.flag("f32");
  const std::string root = a.s("data", data::FashionMNIST::kDefaultRoot);
  manual_seed(0);
  using FM = data::FashionMNIST;
  auto norm = data::normalize({FM::kMean}, {FM::kStd});
  data::DataLoader train_data(
      std::make_shared<FM>(FM::Split::train, root),
      {.batch_size = batch, .shuffle = true, .drop_last = true, .num_workers = static_cast<int>(workers),
       .prefetch_factor = 4, .seed = 0,
       .transform = data::compose({data::random_crop(28, 28, 4), data::random_horizontal_flip(), norm}),
       .pin_memory = true});
  data::DataLoader test_data(std::make_shared<FM>(FM::Split::test, root),
                             {.batch_size = 1000, .num_workers = 2, .transform = norm, .pin_memory = true});
  models::ResNetConfig cfg;
  cfg.depth = 18;
  cfg.stem = "small";
  cfg.in_channels = 1;
  cfg.num_classes = 10;
  auto model = std::make_shared<models::ResNet>(cfg);
  model->to(kGpu);
  optim::SGD opt(model->parameters(), {.lr = lr, .momentum = 0.9, .weight_decay = wd, .nesterov = true});
  const int64_t per_epoch = max_batches > 0 ? std::min(max_batches, train_data.num_batches())
                                            : train_data.num_batches();
  const int64_t total = epochs * per_epoch;
  optim::CosineAnnealingLR sched(opt, total);
  auto t0 = Clock::now();
  double last_loss = 0;
  for (int64_t e = 0; e < epochs; ++e) {
    model->train();
    auto te = Clock::now();
    for (data::Batch& b : train_data.epoch(e)) {
      if (b.index >= per_epoch) break;
      Tensor x = b.input.to(kGpu), y = b.target.to(kGpu);
      opt.zero_grad();
      Tensor loss;
      {
        AutocastGuard ac(DeviceType::cuda, DType::bf16, amp);
        loss = cross_entropy((*model)(x), y);
      }
      loss.backward();
      opt.step();
      sched.step();
      if (b.index + 1 == per_epoch) last_loss = loss.to(kCPU).to(DType::f32).item<float>();
    }
    sync();
    std::fprintf(stderr, "epoch %lld: last batch loss %.4f, %.1f s\n", static_cast<long long>(e + 1),
                 last_loss, seconds_since(te));
  }
  sync();
  const double train_s = seconds_since(t0);
  model->eval();
  int64_t correct = 0, seen = 0;
  {
    autograd::NoGradGuard ng;
    for (data::Batch& b : test_data.epoch(0)) {
      if (max_batches > 0 && b.index >= max_batches) break;
      Tensor x = b.input.to(kGpu), y = b.target.to(kGpu);
      Tensor logits;
      {
        AutocastGuard ac(DeviceType::cuda, DType::bf16, amp);
        logits = (*model)(x);
      }
      correct += sum(eq(argmax(logits, 1), y)).to(kCPU).item<int64_t>();
      seen += b.size();
    }
  }
  std::string cmd = "bench_gpu resnet18_fmnist --epochs " + std::to_string(epochs) + " --batch " +
                    std::to_string(batch) + " --lr " + a.s("lr", "0.1") + " --wd " + a.s("wd", "5e-4") +
                    (amp ? "" : " --f32") + " --data " + root;
  json j{{"bench", "resnet18_fmnist"}, {"impl", "deepseek"}, {"epochs", epochs}, {"batch", batch},
         {"test_accuracy", 100.0 * correct / seen}, {"test_examples", seen}, {"train_time_s", train_s},
         {"last_train_loss", last_loss}, {"amp", amp ? "bf16 autocast" : "f32"},
         {"recipe", "small stem; random crop 28 pad 4 + flip; SGD nesterov m=0.9 wd=5e-4; cosine per step"},
         {"command", cmd}};
  add_memory(j);
  emit(j);
  return 0;
}

void usage() {
  std::fprintf(stderr,
               "usage: bench_gpu {matmul_bf16|elementwise|resnet50|gpt2|bert|resnet18_fmnist} [--key value ...]\n"
               "  matmul_bf16 --n 8192 --iters 20\n"
               "  elementwise --gib 1 --iters 20\n"
               "  attention --batch 16 --heads 12 --seq 1024 --dim 64 --causal 1 --iters 20\n"
               "  resnet50 --batch 256 --steps 20 --warmup 5\n"
               "  gpt2 --batch 16 --seq 1024 --steps 10 --warmup 3 --dropout 0\n"
               "  bert --batch 32 --seq 512 --steps 10 --warmup 3 --dropout 0.1\n"
               "  resnet18_fmnist --epochs 30 --batch 128 --lr 0.1 --wd 5e-4 --data DIR [--f32] [--workers 6]\n"
               "                  [--max_batches N: N batches per epoch and of the test set, a smoke test]\n"
               "  --device cpu: run on the CPU (a smoke test of the code paths, with small sizes)\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage();
    return 1;
  }
  const std::string cmd = argv[1];
  if (cmd == "-h" || cmd == "--help") {
    usage();
    return 0;
  }
  Args args(argc, argv, 2);
  if (args.s("device", "cuda") == "cpu") {
    kGpu = kCPU;
  } else if (!cuda_is_available()) {
    std::fprintf(stderr, "bench_gpu: no CUDA device is available\n");
    return 2;
  }
  // PyTorch's defaults, set explicitly on both sides: f32 matmuls in true f32, cuDNN
  // convolutions may use TF32.
  set_float32_matmul_precision("highest");
  set_conv_allow_tf32(true);
  try {
    if (cmd == "matmul_bf16") return matmul_bf16(args);
    if (cmd == "elementwise") return elementwise(args);
    if (cmd == "attention") return attention(args);
    if (cmd == "resnet50") return resnet50(args);
    if (cmd == "gpt2") return gpt2(args);
    if (cmd == "bert") return bert(args);
    if (cmd == "resnet18_fmnist") return resnet18_fmnist(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_gpu %s: %s\n", cmd.c_str(), e.what());
    emit({{"bench", cmd}, {"impl", "deepseek"}, {"error", e.what()}});
    return 1;
  }
  usage();
  return 1;
}
