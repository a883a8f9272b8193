#include "deepseek/nn/activation.h"

#include <sstream>

#include "deepseek/core/error.h"

namespace deepseek::nn {

namespace {
std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}
}  // namespace

GELU::GELU(std::string approx) : Module("GELU"), approximate(std::move(approx)) {
  DS_CHECK(approximate == "none" || approximate == "tanh",
           "[GELU] approximate must be 'none' or 'tanh', got '", approximate, "'");
}

Tensor LeakyReLU::forward(const Tensor& x) { return where(gt(x, 0.0), x, mul(x, negative_slope)); }
std::string LeakyReLU::extra_repr() const { return "negative_slope=" + num(negative_slope); }

Dropout::Dropout(double p) : Module("Dropout"), p(p) {
  DS_CHECK(p >= 0.0 && p <= 1.0, "[Dropout] p must be in [0, 1], got ", p);
}
Tensor Dropout::forward(const Tensor& x) {
  if (!is_training() || p == 0.0) return x;
  return dropout(x, p, true);
}
std::string Dropout::extra_repr() const { return "p=" + num(p) + ", inplace=False"; }

ModulePtr make_activation(const std::string& name) {
  if (name == "relu") return std::make_shared<ReLU>();
  if (name == "gelu") return std::make_shared<GELU>();
  if (name == "gelu_tanh") return std::make_shared<GELU>("tanh");
  if (name == "silu" || name == "swish") return std::make_shared<SiLU>();
  if (name == "tanh") return std::make_shared<Tanh>();
  if (name == "sigmoid") return std::make_shared<Sigmoid>();
  DS_THROW("[nn.make_activation] unknown activation \"", name,
           "\" (expected relu, gelu, gelu_tanh, silu, tanh or sigmoid)");
}

}  // namespace deepseek::nn
