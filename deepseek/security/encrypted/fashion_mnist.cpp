#include "deepseek/security/encrypted/fashion_mnist.h"

#include <zlib.h>

#include <filesystem>

#include "deepseek/core/error.h"

namespace deepseek::security {

namespace {
std::vector<std::uint8_t> read_gz(const std::string& path) {
  DS_CHECK(std::filesystem::exists(path), "[fashion_mnist] missing ", path,
           " (install the Debian package dataset-fashion-mnist)");
  gzFile f = gzopen(path.c_str(), "rb");
  DS_CHECK(f != nullptr, "[fashion_mnist] cannot open ", path);
  std::vector<std::uint8_t> out;
  std::uint8_t buf[1 << 16];
  int k;
  while ((k = gzread(f, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + k);
  gzclose(f);
  DS_CHECK(k == 0, "[fashion_mnist] corrupt gzip stream in ", path);
  return out;
}
std::uint32_t be32(const std::vector<std::uint8_t>& b, std::size_t o) {
  DS_CHECK(o + 4 <= b.size(), "[fashion_mnist] truncated IDX header");
  return (std::uint32_t(b[o]) << 24) | (std::uint32_t(b[o + 1]) << 16) | (std::uint32_t(b[o + 2]) << 8) | b[o + 3];
}
}  // namespace

FashionMnist load_fashion_mnist(const std::string& split, std::size_t limit, const std::string& dir) {
  DS_CHECK(split == "train" || split == "t10k", "[fashion_mnist] split must be 'train' or 't10k', got '", split, "'");
  auto img = read_gz(dir + "/" + split + "-images-idx3-ubyte.gz");
  auto lab = read_gz(dir + "/" + split + "-labels-idx1-ubyte.gz");
  DS_CHECK(be32(img, 0) == 0x803 && be32(lab, 0) == 0x801, "[fashion_mnist] bad IDX magic");
  std::size_t n = be32(img, 4), rows = be32(img, 8), cols = be32(img, 12);
  DS_CHECK(rows == 28 && cols == 28 && be32(lab, 4) == n, "[fashion_mnist] unexpected IDX dimensions");
  DS_CHECK(img.size() >= 16 + n * 784 && lab.size() >= 8 + n, "[fashion_mnist] truncated IDX data");
  if (limit && limit < n) n = limit;
  FashionMnist d;
  d.images.resize(n, std::vector<double>(784));
  d.labels.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t p = 0; p < 784; ++p) d.images[i][p] = img[16 + i * 784 + p] / 255.0;
    d.labels[i] = lab[8 + i];
  }
  return d;
}

}  // namespace deepseek::security
