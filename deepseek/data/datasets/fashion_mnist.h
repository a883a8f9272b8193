// Fashion-MNIST (Xiao et al. 2017): 60,000 training and 10,000 test 28×28 grayscale images
// of 10 clothing classes, read from the IDX gz files of the Debian package
// `dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist). The whole split is loaded
// once into one f32 tensor (N, 1, 28, 28) with values in [0, 1] and one i64 label tensor
// (N); examples are views of them. Normalization is left to a transform
// (data::normalize({0.2860f}, {0.3530f}) gives the usual statistics).
#pragma once

#include <array>
#include <string>

#include "deepseek/data/dataset.h"

namespace deepseek::data {

class FashionMNIST : public TensorDataset {
 public:
  enum class Split { train, test };
  static constexpr const char* kDefaultRoot = "/usr/share/datasets/fashion-mnist";
  static constexpr int64_t kClasses = 10;
  static const std::array<const char*, 10> kClassNames;
  // Mean and std of the training images' pixels (in [0, 1]).
  static constexpr float kMean = 0.2860f, kStd = 0.3530f;

  // `root` empty: $DEEPSEEK_FASHION_MNIST_DIR if set, else kDefaultRoot.
  explicit FashionMNIST(Split split, const std::string& root = "");

  Split split() const { return split_; }
  const Tensor& images() const { return inputs(); }  // (N, 1, 28, 28) f32
  const Tensor& labels() const { return targets(); } // (N) i64

 private:
  Split split_;
};

}  // namespace deepseek::data
