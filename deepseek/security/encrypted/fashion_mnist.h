// Minimal Fashion-MNIST reader (gzip'd IDX files of the Debian package dataset-fashion-mnist,
// /usr/share/datasets/fashion-mnist). Lives here only because the framework's data loader
// does not exist yet; it should move to deepseek/data/datasets/fashion_mnist.
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
