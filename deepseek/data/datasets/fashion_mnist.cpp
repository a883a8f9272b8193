#include "deepseek/data/datasets/fashion_mnist.h"

#include <cstdlib>
#include <filesystem>

#include "deepseek/data/datasets/idx.h"

namespace deepseek::data {

const std::array<const char*, 10> FashionMNIST::kClassNames = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

namespace {
std::string resolve_root(const std::string& root) {
  if (!root.empty()) return root;
  if (const char* env = std::getenv("DEEPSEEK_FASHION_MNIST_DIR"); env && *env) return env;
  return FashionMNIST::kDefaultRoot;
}

void check_exists(const std::string& path) {
  std::error_code ec;
  DS_CHECK(std::filesystem::is_regular_file(path, ec), "[FashionMNIST] missing ", path,
           ": install the Debian package dataset-fashion-mnist (sudo apt-get install dataset-fashion-mnist), "
           "or point DEEPSEEK_FASHION_MNIST_DIR at a directory holding the four IDX .gz files");
}
}  // namespace

FashionMNIST::FashionMNIST(Split split, const std::string& root_arg) : split_(split) {
  const std::string root = resolve_root(root_arg);
  const std::string prefix = root + "/" + (split == Split::train ? "train" : "t10k");
  const std::string images_path = prefix + "-images-idx3-ubyte.gz";
  const std::string labels_path = prefix + "-labels-idx1-ubyte.gz";
  check_exists(images_path);
  check_exists(labels_path);

  // The magic numbers are 2051 (0x0803: u8, 3 dims) for images and 2049 (0x0801) for labels.
  Tensor images = read_idx_u8(images_path, 2051);
  Tensor labels = read_idx_u8(labels_path, 2049);
  DS_CHECK(images.size(1) == 28 && images.size(2) == 28, "[FashionMNIST] ", images_path, ": images are ",
           images.size(1), "x", images.size(2), ", expected 28x28");
  DS_CHECK(images.size(0) == labels.size(0), "[FashionMNIST] ", images.size(0), " images but ", labels.size(0),
           " labels in ", root);
  const int64_t expected = split == Split::train ? 60000 : 10000;
  DS_CHECK(images.size(0) == expected, "[FashionMNIST] ", images_path, " holds ", images.size(0),
           " images, expected ", expected);

  const int64_t n = images.size(0);
  Tensor x = Tensor::empty({n, 1, 28, 28}, DType::f32);
  const uint8_t* src = images.data<uint8_t>();
  float* dst = x.data<float>();
  for (int64_t i = 0; i < n * 784; ++i) dst[i] = static_cast<float>(src[i]) / 255.0f;  // as torchvision ToTensor
  Tensor y = Tensor::empty({n}, DType::i64);
  const uint8_t* lsrc = labels.data<uint8_t>();
  int64_t* ldst = y.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    DS_CHECK(lsrc[i] < kClasses, "[FashionMNIST] ", labels_path, ": label ", int(lsrc[i]), " of example ", i,
             " is not a class in [0, 10)");
    ldst[i] = lsrc[i];
  }
  set(std::move(x), std::move(y));
}

}  // namespace deepseek::data
