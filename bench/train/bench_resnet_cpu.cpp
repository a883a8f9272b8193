// bench_resnet_cpu: our side of bench/train/resnet.py; ends with one JSON summary line.
//   resnet18_train   ResNet-18, small stem (3×3 stride-1, no max pool), 1×28×28 inputs, 10
//                    classes: forward + cross-entropy + backward + SGD momentum step
//   resnet50_infer   ResNet-50, ImageNet stem, 3×224×224, eval mode, no grad: per-call latency
// Inputs are random (fixed seed): the timing does not depend on the data.
// Usage: bench_resnet_cpu {resnet18_train|resnet50_infer} [--threads 2] [--batch N]
//                         [--steps N] [--warmup N] [--paced]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "deepseek/autograd/grad_mode.h"
#include "deepseek/core/parallel.h"
#include "deepseek/models/zoo.h"
#include "deepseek/ops/ops.h"
#include "deepseek/optim/sgd.h"

using namespace deepseek;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// --paced: after the warm-up print "ready", then before each timed call wait for a line on
// stdin and after it print its time, so a driver can alternate our calls with PyTorch's and
// both sides see the same bursts of load from other machines sharing the host.
bool g_paced = false;

// Per-call times in ms of `steps` calls after `warmup` untimed ones.
template <typename F>
std::vector<double> time_calls(int64_t warmup, int64_t steps, F&& call) {
  for (int64_t i = 0; i < warmup; ++i) call();
  if (g_paced) std::printf("ready\n"), std::fflush(stdout);
  std::vector<double> ms;
  char line[64];
  for (int64_t i = 0; i < steps; ++i) {
    if (g_paced && !std::fgets(line, sizeof line, stdin)) std::exit(1);  // the driver went away
    auto t0 = Clock::now();
    call();
    ms.push_back(ms_since(t0));
    if (g_paced) std::printf("%.3f\n", ms.back()), std::fflush(stdout);
  }
  return ms;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / v.size();
}

// The summary line: the timed calls' median, mean and fastest, plus `extra`.
void report(const char* bench, int64_t batch, int64_t warmup, const std::vector<double>& ms,
            nn::Module& model, nlohmann::json extra) {
  int64_t params = 0;
  for (auto& p : model.parameters()) params += p.numel();
  nlohmann::json j{{"bench", bench},
                   {"batch", batch},
                   {"warmup", warmup},
                   {"calls", ms.size()},
                   {"median_ms", median(ms)},
                   {"mean_ms", mean(ms)},
                   {"min_ms", *std::min_element(ms.begin(), ms.end())},
                   {"parameters", params}};
  j.update(extra);
  std::printf("%s\n", j.dump().c_str());
}

int resnet18_train(int64_t batch, int64_t steps, int64_t warmup) {
  auto model = models::create_model("resnet18",
                                    {{"stem", "small"}, {"in_channels", 1}, {"num_classes", 10}});
  model->train();
  optim::SGD opt(model->parameters(), {.lr = 0.01, .momentum = 0.9});
  Tensor x = randn({batch, 1, 28, 28});
  Tensor y = randint(0, 10, {batch}, {DType::i64});
  float loss = 0;
  auto ms = time_calls(warmup, steps, [&] {
    opt.zero_grad();
    Tensor l = cross_entropy((*model)(x), y);
    l.backward();
    opt.step();
    loss = l.item<float>();
  });
  report("resnet18_train", batch, warmup, ms, *model,
         {{"img_per_s", 1e3 * batch / median(ms)}, {"last_loss", loss}});
  return 0;
}

int resnet50_infer(int64_t batch, int64_t steps, int64_t warmup) {
  auto model = models::create_model("resnet50");
  model->eval();
  autograd::NoGradGuard ng;
  Tensor x = randn({batch, 3, 224, 224});
  float checksum = 0;
  auto ms = time_calls(warmup, steps, [&] { checksum = sum((*model)(x)).item<float>(); });
  report("resnet50_infer", batch, warmup, ms, *model, {{"checksum", checksum}});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(
        stderr,
        "usage: bench_resnet_cpu {resnet18_train|resnet50_infer} [--threads N] [--batch N] "
        "[--steps N] [--warmup N] [--paced]\n");
    return 1;
  }
  const std::string cmd = argv[1];
  const bool train = cmd == "resnet18_train";
  int64_t threads = 2, batch = train ? 128 : 1, steps = train ? 10 : 30, warmup = train ? 2 : 5;
  for (int i = 2; i < argc; ++i) {
    const char* key = argv[i];
    if (!std::strcmp(key, "--paced")) {
      g_paced = true;
      continue;
    }
    const int64_t v = i + 1 < argc ? std::atoll(argv[++i]) : 0;
    if (!std::strcmp(key, "--threads"))
      threads = v;
    else if (!std::strcmp(key, "--batch"))
      batch = v;
    else if (!std::strcmp(key, "--steps"))
      steps = v;
    else if (!std::strcmp(key, "--warmup"))
      warmup = v;
    else {
      std::fprintf(stderr, "bench_resnet_cpu: unknown option '%s'\n", key);
      return 1;
    }
  }
  if (threads < 1 || batch < 1 || steps < 1 || warmup < 0) {
    std::fprintf(stderr, "bench_resnet_cpu: --threads, --batch and --steps must be positive\n");
    return 1;
  }
  set_num_threads(static_cast<int>(threads));
  manual_seed(0);
  if (train) return resnet18_train(batch, steps, warmup);
  if (cmd == "resnet50_infer") return resnet50_infer(batch, steps, warmup);
  std::fprintf(stderr, "bench_resnet_cpu: unknown benchmark '%s'\n", cmd.c_str());
  return 1;
}
