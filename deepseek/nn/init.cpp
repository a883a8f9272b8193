#include "deepseek/nn/init.h"

#include <cmath>

#include "deepseek/autograd/grad_mode.h"
#include "deepseek/core/error.h"
#include "deepseek/ops/ops.h"

namespace deepseek::nn::init {

double calculate_gain(const std::string& nl, double param) {
  if (nl == "linear" || nl == "identity" || nl == "sigmoid" || nl.rfind("conv", 0) == 0) return 1.0;
  if (nl == "tanh") return 5.0 / 3.0;
  if (nl == "relu") return std::sqrt(2.0);
  if (nl == "leaky_relu") return std::sqrt(2.0 / (1.0 + param * param));
  if (nl == "selu") return 3.0 / 4.0;
  DS_THROW("[init.calculate_gain] unsupported nonlinearity \"", nl, "\"");
}

std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& t) {
  DS_CHECK(t.dim() >= 2, "[init] fan in and fan out need a tensor with at least 2 dims, got ",
           to_string(t.sizes()));
  int64_t receptive = 1;
  for (int64_t d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  return {t.size(1) * receptive, t.size(0) * receptive};
}

namespace {
// Writes `value` into t without recording history.
Tensor& assign(Tensor& t, const Tensor& value) {
  autograd::NoGradGuard ng;
  t.copy_(value);
  return t;
}
int64_t fan(const Tensor& t, FanMode mode) {
  auto [in, out] = calculate_fan_in_and_fan_out(t);
  return mode == FanMode::fan_in ? in : out;
}
// Inverse of erf by a rational start and Newton steps (double precision is plenty here).
double erfinv(double y) {
  if (y <= -1) return -INFINITY;
  if (y >= 1) return INFINITY;
  double w = -std::log((1.0 - y) * (1.0 + y)), x;
  if (w < 5.0) {
    w -= 2.5;
    x = 2.81022636e-08;
    for (double c : {3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
                     -0.00417768164, 0.246640727, 1.50140941})
      x = c + x * w;
  } else {
    w = std::sqrt(w) - 3.0;
    x = -0.000200214257;
    for (double c : {0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
                     0.00943887047, 1.00167406, 2.83297682})
      x = c + x * w;
  }
  x *= y;
  for (int i = 0; i < 2; ++i) x -= (std::erf(x) - y) / (2.0 / std::sqrt(M_PI) * std::exp(-x * x));
  return x;
}
}  // namespace

Tensor& uniform_(Tensor& t, double low, double high) {
  DS_CHECK(t.defined(), "[init.uniform_] tensor is undefined");
  Tensor r = rand(t.sizes(), {DType::f32, t.device()});
  if (t.dtype() == DType::f64) r = rand(t.sizes(), {DType::f64, t.device()});
  return assign(t, add(mul(r, high - low), low));
}

Tensor& normal_(Tensor& t, double mean, double std) {
  DS_CHECK(t.defined(), "[init.normal_] tensor is undefined");
  Tensor r = randn(t.sizes(), {t.dtype() == DType::f64 ? DType::f64 : DType::f32, t.device()});
  return assign(t, add(mul(r, std), mean));
}

Tensor& trunc_normal_(Tensor& t, double mean, double std, double a, double b) {
  DS_CHECK(t.defined(), "[init.trunc_normal_] tensor is undefined");
  DS_CHECK(a < b, "[init.trunc_normal_] need a < b, got a=", a, " b=", b);
  auto cdf = [](double x) { return (1.0 + std::erf(x / std::sqrt(2.0))) / 2.0; };
  double l = cdf((a - mean) / std), u = cdf((b - mean) / std);
  std::vector<double> v = rand(t.sizes(), {DType::f64}).to_vector<double>();
  for (auto& x : v) {
    double y = (2 * l - 1) + x * (2 * u - 2 * l);  // uniform in [2l-1, 2u-1]
    double s = erfinv(y) * std * std::sqrt(2.0) + mean;
    x = std::min(std::max(s, a), b);
  }
  return assign(t, to_device(tensor(v, t.sizes(), {DType::f64}), t.device()));
}

Tensor& constant_(Tensor& t, double value) {
  autograd::NoGradGuard ng;
  t.fill_(value);
  return t;
}
Tensor& zeros_(Tensor& t) { return constant_(t, 0.0); }
Tensor& ones_(Tensor& t) { return constant_(t, 1.0); }

Tensor& xavier_uniform_(Tensor& t, double gain) {
  auto [in, out] = calculate_fan_in_and_fan_out(t);
  double std = gain * std::sqrt(2.0 / double(in + out));
  double a = std::sqrt(3.0) * std;
  return uniform_(t, -a, a);
}

Tensor& xavier_normal_(Tensor& t, double gain) {
  auto [in, out] = calculate_fan_in_and_fan_out(t);
  return normal_(t, 0.0, gain * std::sqrt(2.0 / double(in + out)));
}

Tensor& kaiming_uniform_(Tensor& t, double a, FanMode mode, const std::string& nonlinearity) {
  int64_t f = fan(t, mode);
  DS_CHECK(f > 0, "[init.kaiming_uniform_] cannot initialize a tensor with zero elements");
  double bound = std::sqrt(3.0) * calculate_gain(nonlinearity, a) / std::sqrt(double(f));
  return uniform_(t, -bound, bound);
}

Tensor& kaiming_normal_(Tensor& t, double a, FanMode mode, const std::string& nonlinearity) {
  int64_t f = fan(t, mode);
  DS_CHECK(f > 0, "[init.kaiming_normal_] cannot initialize a tensor with zero elements");
  return normal_(t, 0.0, calculate_gain(nonlinearity, a) / std::sqrt(double(f)));
}

}  // namespace deepseek::nn::init
