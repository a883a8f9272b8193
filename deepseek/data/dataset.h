// Datasets: random access to examples by index. `get` must be safe to call from several
// threads at once (the DataLoader's workers do); datasets that hold their data in memory get
// this for free by returning views.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "deepseek/core/tensor.h"

namespace deepseek::data {

struct Example {
  Tensor input;
  Tensor target;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // Example `index` in [0, size()). Thread-safe; must not modify shared state.
  virtual Example get(int64_t index) const = 0;
};

// Row `i` of `t` (a view sharing t's storage): shape t.shape[1:].
Tensor row(const Tensor& t, int64_t i);

// Examples are rows of two tensors with the same first dimension (views, no copies).
class TensorDataset : public Dataset {
 public:
  TensorDataset(Tensor inputs, Tensor targets);
  int64_t size() const override { return inputs_.size(0); }
  Example get(int64_t index) const override;
  const Tensor& inputs() const { return inputs_; }
  const Tensor& targets() const { return targets_; }

 protected:
  TensorDataset() = default;
  void set(Tensor inputs, Tensor targets);

 private:
  Tensor inputs_, targets_;
};

// The examples of `base` at `indices` (e.g. a train/validation split).
class Subset : public Dataset {
 public:
  Subset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices);
  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  Example get(int64_t index) const override;

 private:
  std::shared_ptr<const Dataset> base_;
  std::vector<int64_t> indices_;
};

}  // namespace deepseek::data
