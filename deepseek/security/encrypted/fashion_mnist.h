// Fashion-MNIST as the encrypted models use it: images as 784 doubles in [0, 1] and int labels,
// read by the framework's reader (deepseek/data/datasets/fashion_mnist: the gzip'd IDX files of
// the Debian package dataset-fashion-mnist, /usr/share/datasets/fashion-mnist).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace deepseek::security {

struct FashionMnist {
  std::vector<std::vector<double>> images;  // 784 pixels in [0, 1]
  std::vector<int> labels;                  // 0..9
};

// split: "train" or "t10k"; limit: at most this many samples (0 = all).
FashionMnist load_fashion_mnist(const std::string& split, std::size_t limit = 0,
                                const std::string& dir = "/usr/share/datasets/fashion-mnist");

}  // namespace deepseek::security
