#include "deepseek/nn/norm.h"

#include <sstream>

#include "deepseek/autograd/grad_mode.h"
#include "deepseek/core/error.h"
#include "deepseek/nn/init.h"

namespace deepseek::nn {

namespace {
std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}
std::string shape_tuple(const Shape& s) {
  return detail::tuple_str(std::vector<int64_t>(s.begin(), s.end()));
}
}  // namespace

// ---- BatchNorm ----

BatchNorm::BatchNorm(const char* type, int64_t c, BatchNormOptions o, TensorOptions to)
    : Module(type), num_features(c), options(o) {
  DS_CHECK(c > 0, "[", type, "] num_features must be positive, got ", c);
  if (o.affine) {
    weight = empty({c}, to);
    bias = empty({c}, to);
    bind_parameter("weight", weight);
    bind_parameter("bias", bias);
  }
  if (o.track_running_stats) {
    running_mean = zeros({c}, to);
    running_var = ones({c}, to);
    num_batches_tracked = zeros({}, {DType::i64, to.device});
    bind_buffer("running_mean", running_mean);
    bind_buffer("running_var", running_var);
    bind_buffer("num_batches_tracked", num_batches_tracked);
  }
  reset_parameters();
}

void BatchNorm::reset_running_stats() {
  if (!options.track_running_stats) return;
  init::zeros_(running_mean);
  init::ones_(running_var);
  init::zeros_(num_batches_tracked);
}

void BatchNorm::reset_parameters() {
  reset_running_stats();
  if (options.affine) {
    init::ones_(weight);
    init::zeros_(bias);
  }
}

Tensor BatchNorm::forward(const Tensor& x) {
  check_input(x);
  DS_CHECK(x.size(1) == num_features, "[", type_name(), "] expected ", num_features,
           " channels in dim 1, got shape ", to_string(x.sizes()));
  double factor = options.momentum.value_or(0.0);
  if (is_training() && options.track_running_stats) {
    autograd::NoGradGuard ng;
    num_batches_tracked.add_(scalar_tensor(1, {DType::i64, num_batches_tracked.device()}));
    if (!options.momentum) factor = 1.0 / double(num_batches_tracked.item<int64_t>());
  }
  bool use_batch_stats = is_training() || !options.track_running_stats;
  Tensor rm = options.track_running_stats ? running_mean : Tensor();
  Tensor rv = options.track_running_stats ? running_var : Tensor();
  return batch_norm(x, weight, bias, rm, rv, use_batch_stats, factor, options.eps);
}

std::string BatchNorm::extra_repr() const {
  return std::to_string(num_features) + ", eps=" + num(options.eps) +
         ", momentum=" + (options.momentum ? num(*options.momentum) : "None") +
         ", affine=" + detail::bool_str(options.affine) +
         ", track_running_stats=" + detail::bool_str(options.track_running_stats);
}

void BatchNorm1d::check_input(const Tensor& x) const {
  DS_CHECK(x.dim() == 2 || x.dim() == 3,
           "[BatchNorm1d] expected 2-D or 3-D input (N, C[, L]), got shape ", to_string(x.sizes()));
}

void BatchNorm2d::check_input(const Tensor& x) const {
  DS_CHECK(x.dim() == 4, "[BatchNorm2d] expected 4-D input (N, C, H, W), got shape ",
           to_string(x.sizes()));
}

// ---- LayerNorm ----

LayerNorm::LayerNorm(Shape ns, double eps, bool affine, bool has_bias, TensorOptions to)
    : Module("LayerNorm"), normalized_shape(std::move(ns)), eps(eps), elementwise_affine(affine) {
  DS_CHECK(!normalized_shape.empty(), "[LayerNorm] normalized_shape must not be empty");
  if (affine) {
    weight = ones(normalized_shape, to);
    bind_parameter("weight", weight);
    if (has_bias) {
      bias = zeros(normalized_shape, to);
      bind_parameter("bias", bias);
    }
  }
}

Tensor LayerNorm::forward(const Tensor& x) {
  return layer_norm(x, normalized_shape, weight, bias, eps);
}

std::string LayerNorm::extra_repr() const {
  return shape_tuple(normalized_shape) + ", eps=" + num(eps) +
         ", elementwise_affine=" + detail::bool_str(elementwise_affine);
}

// ---- GroupNorm ----

GroupNorm::GroupNorm(int64_t g, int64_t c, double eps, bool affine, TensorOptions to)
    : Module("GroupNorm"), num_groups(g), num_channels(c), eps(eps), affine(affine) {
  DS_CHECK(g > 0 && c > 0 && c % g == 0, "[GroupNorm] num_channels (", c,
           ") must be divisible by num_groups (", g, ")");
  if (affine) {
    weight = ones({c}, to);
    bias = zeros({c}, to);
    bind_parameter("weight", weight);
    bind_parameter("bias", bias);
  }
}

Tensor GroupNorm::forward(const Tensor& x) {
  DS_CHECK(x.dim() >= 2 && x.size(1) == num_channels, "[GroupNorm] expected ", num_channels,
           " channels in dim 1, got shape ", to_string(x.sizes()));
  return group_norm(x, num_groups, weight, bias, eps);
}

std::string GroupNorm::extra_repr() const {
  return std::to_string(num_groups) + ", " + std::to_string(num_channels) + ", eps=" + num(eps) +
         ", affine=" + detail::bool_str(affine);
}

// ---- RMSNorm ----

RMSNorm::RMSNorm(Shape ns, std::optional<double> eps, bool affine, TensorOptions to)
    : Module("RMSNorm"), normalized_shape(std::move(ns)), eps(eps), elementwise_affine(affine) {
  DS_CHECK(!normalized_shape.empty(), "[RMSNorm] normalized_shape must not be empty");
  if (affine) {
    weight = ones(normalized_shape, to);
    bind_parameter("weight", weight);
  }
}

Tensor RMSNorm::forward(const Tensor& x) { return rms_norm(x, normalized_shape, weight, eps); }

std::string RMSNorm::extra_repr() const {
  return shape_tuple(normalized_shape) + ", eps=" + (eps ? num(*eps) : "None") +
         ", elementwise_affine=" + detail::bool_str(elementwise_affine);
}

}  // namespace deepseek::nn
