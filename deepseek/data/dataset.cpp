#include "deepseek/data/dataset.h"

namespace deepseek::data {

Tensor row(const Tensor& t, int64_t i) {
  DS_CHECK(t.dim() >= 1, "[data] cannot take a row of a 0-d tensor");
  DS_CHECK(i >= 0 && i < t.size(0), "[data] row ", i, " out of range for ", t.size(0), " rows");
  Shape sizes(t.sizes().begin() + 1, t.sizes().end());
  Strides strides(t.strides().begin() + 1, t.strides().end());
  return Tensor::make(t.storage(), std::move(sizes), std::move(strides), t.offset() + i * t.stride(0),
                      t.dtype());
}

TensorDataset::TensorDataset(Tensor inputs, Tensor targets) { set(std::move(inputs), std::move(targets)); }

void TensorDataset::set(Tensor inputs, Tensor targets) {
  DS_CHECK(inputs.defined() && targets.defined(), "[TensorDataset] inputs and targets must be defined");
  DS_CHECK(inputs.dim() >= 1 && targets.dim() >= 1,
           "[TensorDataset] inputs and targets need a first (example) dimension");
  DS_CHECK(inputs.size(0) == targets.size(0), "[TensorDataset] ", inputs.size(0), " inputs but ",
           targets.size(0), " targets");
  inputs_ = std::move(inputs);
  targets_ = std::move(targets);
}

Example TensorDataset::get(int64_t index) const {
  DS_CHECK(index >= 0 && index < size(), "[TensorDataset] index ", index, " out of range [0, ", size(), ")");
  return {row(inputs_, index), row(targets_, index)};
}

Subset::Subset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices)
    : base_(std::move(base)), indices_(std::move(indices)) {
  DS_CHECK(base_ != nullptr, "[Subset] base dataset is null");
  for (auto i : indices_)
    DS_CHECK(i >= 0 && i < base_->size(), "[Subset] index ", i, " out of range [0, ", base_->size(), ")");
}

Example Subset::get(int64_t index) const {
  DS_CHECK(index >= 0 && index < size(), "[Subset] index ", index, " out of range [0, ", size(), ")");
  return base_->get(indices_[index]);
}

}  // namespace deepseek::data
