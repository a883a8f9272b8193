// Normalization layers: BatchNorm1d/2d (running statistics as buffers, num_batches_tracked),
// LayerNorm, GroupNorm and RMSNorm, with PyTorch's parameter names and defaults.
#pragma once

#include <optional>
#include <string>

#include "deepseek/nn/module.h"

namespace deepseek::nn {

struct BatchNormOptions {
  double eps = 1e-5;
  // Weight of the new batch statistic in the running average; nullopt = cumulative average.
  std::optional<double> momentum = 0.1;
  bool affine = true;
  bool track_running_stats = true;
};

class BatchNorm : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  void reset_running_stats();
  void reset_parameters();
  std::string extra_repr() const override;

  int64_t num_features;
  BatchNormOptions options;
  Tensor weight, bias;               // [C] when affine
  Tensor running_mean, running_var;  // [C] buffers when tracking
  Tensor num_batches_tracked;        // 0-d i64 buffer when tracking

 protected:
  BatchNorm(const char* type, int64_t num_features, BatchNormOptions options, TensorOptions to);
  virtual void check_input(const Tensor& x) const = 0;
};

// Input (N, C) or (N, C, L).
class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(int64_t num_features, BatchNormOptions options = {}, TensorOptions to = {})
      : BatchNorm("BatchNorm1d", num_features, options, to) {}

 protected:
  void check_input(const Tensor& x) const override;
};

// Input (N, C, H, W).
class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(int64_t num_features, BatchNormOptions options = {}, TensorOptions to = {})
      : BatchNorm("BatchNorm2d", num_features, options, to) {}

 protected:
  void check_input(const Tensor& x) const override;
};

class LayerNorm : public Module {
 public:
  LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true,
            bool bias = true, TensorOptions to = {});
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  Shape normalized_shape;
  double eps;
  bool elementwise_affine;
  Tensor weight, bias;
};

class GroupNorm : public Module {
 public:
  GroupNorm(int64_t num_groups, int64_t num_channels, double eps = 1e-5, bool affine = true,
            TensorOptions to = {});
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  int64_t num_groups, num_channels;
  double eps;
  bool affine;
  Tensor weight, bias;
};

// eps nullopt: the dtype's machine epsilon (as torch.nn.RMSNorm).
class RMSNorm : public Module {
 public:
  RMSNorm(Shape normalized_shape, std::optional<double> eps = std::nullopt,
          bool elementwise_affine = true, TensorOptions to = {});
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  Shape normalized_shape;
  std::optional<double> eps;
  bool elementwise_affine;
  Tensor weight;
};

}  // namespace deepseek::nn
