#include "deepseek/nn/linear.h"

#include <cmath>

#include "deepseek/core/error.h"
#include "deepseek/nn/init.h"

namespace deepseek::nn {

Linear::Linear(int64_t in, int64_t out, bool has_bias, TensorOptions o)
    : Module("Linear"), in_features(in), out_features(out) {
  DS_CHECK(in >= 0 && out >= 0, "[Linear] feature counts must be non-negative, got ", in, " and ",
           out);
  weight = empty({out, in}, o);
  bind_parameter("weight", weight);
  if (has_bias) {
    bias = empty({out}, o);
    bind_parameter("bias", bias);
  }
  reset_parameters();
}

void Linear::reset_parameters() {
  if (weight.numel() > 0) init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    double bound = in_features > 0 ? 1.0 / std::sqrt(double(in_features)) : 0.0;
    init::uniform_(bias, -bound, bound);
  }
}

Tensor Linear::forward(const Tensor& x) {
  DS_CHECK(x.dim() >= 1 && x.size(-1) == in_features, "[Linear] input's last dim must be ",
           in_features, ", got shape ", to_string(x.sizes()));
  return linear(x, weight, bias);
}

std::string Linear::extra_repr() const {
  return "in_features=" + std::to_string(in_features) +
         ", out_features=" + std::to_string(out_features) +
         ", bias=" + detail::bool_str(bias.defined());
}

}  // namespace deepseek::nn
