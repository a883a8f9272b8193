#include "deepseek/security/encrypted/fashion_mnist.h"

#include <cmath>

#include "deepseek/core/error.h"
#include "deepseek/data/datasets/fashion_mnist.h"

namespace deepseek::security {

FashionMnist load_fashion_mnist(const std::string& split, std::size_t limit,
                                const std::string& dir) {
  DS_CHECK(split == "train" || split == "t10k",
           "[fashion_mnist] split must be 'train' or 't10k', got '", split, "'");
  // The framework's reader (deepseek/data) does the file checks and names the Debian package.
  const data::FashionMNIST ds(
      split == "train" ? data::FashionMNIST::Split::train : data::FashionMNIST::Split::test, dir);
  const Tensor images = ds.images().contiguous(), labels = ds.labels().contiguous();
  std::size_t n = std::size_t(images.size(0));
  if (limit && limit < n) n = limit;
  const float* px = images.data<float>();
  const std::int64_t* lab = labels.data<std::int64_t>();
  FashionMnist d;
  d.images.assign(n, std::vector<double>(784));
  d.labels.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    // Pixels as bytes / 255 in double, exactly as from the IDX file.
    for (std::size_t p = 0; p < 784; ++p)
      d.images[i][p] = std::nearbyint(double(px[i * 784 + p]) * 255.0) / 255.0;
    d.labels[i] = int(lab[i]);
  }
  return d;
}

}  // namespace deepseek::security
