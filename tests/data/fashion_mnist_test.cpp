#include "deepseek/data/datasets/fashion_mnist.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "deepseek/data/datasets/idx.h"

namespace deepseek::data {
namespace {

bool have_dataset() {
  return std::filesystem::exists(std::string(FashionMNIST::kDefaultRoot) + "/train-images-idx3-ubyte.gz");
}

#define REQUIRE_DATASET() \
  if (!have_dataset()) GTEST_SKIP() << "dataset-fashion-mnist is not installed"

TEST(FashionMNIST, TrainSplitCountsShapesAndFirstLabels) {
  REQUIRE_DATASET();
  FashionMNIST ds(FashionMNIST::Split::train);
  EXPECT_EQ(ds.size(), 60000);
  EXPECT_EQ(ds.images().sizes(), (Shape{60000, 1, 28, 28}));
  EXPECT_EQ(ds.images().dtype(), DType::f32);
  EXPECT_EQ(ds.labels().sizes(), (Shape{60000}));
  EXPECT_EQ(ds.labels().dtype(), DType::i64);
  std::vector<int64_t> first(ds.labels().data<int64_t>(), ds.labels().data<int64_t>() + 10);
  EXPECT_EQ(first, (std::vector<int64_t>{9, 0, 0, 3, 0, 2, 7, 2, 5, 5}));
  Example e = ds.get(0);
  EXPECT_EQ(e.input.sizes(), (Shape{1, 28, 28}));
  EXPECT_EQ(e.target.dim(), 0);
  EXPECT_EQ(e.target.item<int64_t>(), 9);
  // Pixels in [0, 1]; first image's byte sum is 76247 (checked with Python's gzip).
  double sum = 0, lo = 1, hi = 0;
  const float* p = e.input.data<float>();
  for (int i = 0; i < 784; ++i) sum += p[i] * 255.0, lo = std::min<double>(lo, p[i]), hi = std::max<double>(hi, p[i]);
  EXPECT_NEAR(sum, 76247, 1e-2);
  EXPECT_GE(lo, 0.0);
  EXPECT_LE(hi, 1.0);
  // Examples are views of the one tensor.
  EXPECT_EQ(ds.get(5).input.storage().get(), ds.images().storage().get());
  // Class balance: 6000 of each.
  std::vector<int> counts(10);
  for (int64_t i = 0; i < ds.size(); ++i) counts[ds.labels().data<int64_t>()[i]]++;
  for (int c : counts) EXPECT_EQ(c, 6000);
  double mean = 0;
  const float* all = ds.images().data<float>();
  for (int64_t i = 0; i < ds.images().numel(); ++i) mean += all[i];
  EXPECT_NEAR(mean / ds.images().numel(), FashionMNIST::kMean, 1e-3);
}

TEST(FashionMNIST, TestSplit) {
  REQUIRE_DATASET();
  FashionMNIST ds(FashionMNIST::Split::test);
  EXPECT_EQ(ds.size(), 10000);
  std::vector<int64_t> first(ds.labels().data<int64_t>(), ds.labels().data<int64_t>() + 10);
  EXPECT_EQ(first, (std::vector<int64_t>{9, 2, 1, 1, 6, 1, 4, 6, 5, 7}));
  EXPECT_THROW(ds.get(10000), Error);
  EXPECT_THROW(ds.get(-1), Error);
}

TEST(FashionMNIST, MissingFilesNameTheDebianPackage) {
  try {
    FashionMNIST ds(FashionMNIST::Split::train, "/nonexistent/fashion");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dataset-fashion-mnist"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("/nonexistent/fashion/train-images-idx3-ubyte.gz"), std::string::npos)
        << e.what();
  }
}

// --- corrupt IDX files --------------------------------------------------------------------

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string t = (std::filesystem::temp_directory_path() / "deepseek_idx_XXXXXX").string();
    if (!::mkdtemp(t.data())) throw std::runtime_error("mkdtemp");
    path = t;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::string be(uint32_t v) {
  return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
}

void write_gz(const std::filesystem::path& p, const std::string& bytes) {
  gzFile f = gzopen(p.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  if (!bytes.empty()) gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

std::string images(uint32_t magic, uint32_t n, uint32_t h, uint32_t w, size_t data_bytes) {
  return be(magic) + be(n) + be(h) + be(w) + std::string(data_bytes, '\x7f');
}
std::string labels(uint32_t magic, uint32_t n, size_t data_bytes, char value = 3) {
  return be(magic) + be(n) + std::string(data_bytes, value);
}

// Writes a fake split with `n` examples (the test split, whose expected size we relax by
// writing 10000 examples when the content is otherwise valid).
void expect_rejected(const std::string& img, const std::string& lbl, const std::string& needle) {
  SCOPED_TRACE(needle);
  TempDir d;
  write_gz(d.path / "t10k-images-idx3-ubyte.gz", img);
  write_gz(d.path / "t10k-labels-idx1-ubyte.gz", lbl);
  try {
    FashionMNIST ds(FashionMNIST::Split::test, d.path.string());
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(FashionMNIST, CorruptIdxIsRejected) {
  const size_t px = 10000u * 784;
  const std::string good_labels = labels(2049, 10000, 10000);
  expect_rejected(images(2049, 10000, 28, 28, px), good_labels, "expected 2051");
  expect_rejected(images(2051, 10000, 28, 28, px), labels(2051, 10000, 10000), "expected 2049");
  expect_rejected(images(0x01020803, 10000, 28, 28, px), good_labels, "expected 2051");
  EXPECT_THROW(read_idx_u8("/dev/null"), Error);
  expect_rejected(images(2051, 10000, 28, 28, px - 1), good_labels, "truncated");
  expect_rejected(images(2051, 10000, 28, 28, px + 5), good_labels, "trailing");
  expect_rejected(images(2051, 10000, 32, 32, 10000u * 1024), good_labels, "expected 28x28");
  expect_rejected(images(2051, 10000, 28, 28, px), labels(2049, 9999, 9999), "10000 images but 9999 labels");
  expect_rejected(images(2051, 10000, 28, 28, px), labels(2049, 10000, 10000, 12), "not a class");
  expect_rejected(images(2051, 0xFFFFFFFF, 0xFFFFFF, 28, 100), good_labels, "exceed");
  expect_rejected(images(2051, 1000000, 28, 28, 1000), good_labels, "truncated");  // no huge allocation
  expect_rejected("", good_labels, "too short");
  expect_rejected(be(2051) + be(10), good_labels, "too short");
  // Not gzip at all and not a valid IDX either.
  TempDir d;
  std::ofstream(d.path / "t10k-images-idx3-ubyte.gz") << "hello, this is not an idx file";
  write_gz(d.path / "t10k-labels-idx1-ubyte.gz", good_labels);
  EXPECT_THROW(FashionMNIST(FashionMNIST::Split::test, d.path.string()), Error);
}

TEST(FashionMNIST, ValidFakeSplitLoads) {
  TempDir d;
  write_gz(d.path / "t10k-images-idx3-ubyte.gz", images(2051, 10000, 28, 28, 10000u * 784));
  write_gz(d.path / "t10k-labels-idx1-ubyte.gz", labels(2049, 10000, 10000));
  FashionMNIST ds(FashionMNIST::Split::test, d.path.string());
  EXPECT_EQ(ds.size(), 10000);
  EXPECT_FLOAT_EQ(ds.get(3).input.data<float>()[17], 127.0f / 255.0f);
  EXPECT_EQ(ds.get(3).target.item<int64_t>(), 3);
}

TEST(Idx, ReadsPlainAndGzip) {
  TempDir d;
  const std::string bytes = be(0x0802) + be(2) + be(3) + std::string("\x01\x02\x03\x04\x05\x06");
  std::ofstream(d.path / "plain.idx", std::ios::binary) << bytes;
  write_gz(d.path / "z.idx.gz", bytes);
  for (auto name : {"plain.idx", "z.idx.gz"}) {
    Tensor t = read_idx_u8((d.path / name).string());
    EXPECT_EQ(t.sizes(), (Shape{2, 3}));
    EXPECT_EQ(t.to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
  }
  EXPECT_THROW(read_idx_u8((d.path / "missing").string()), Error);
  auto rejected = [&](const std::string& b, const std::string& needle) {
    write_gz(d.path / "bad.gz", b);
    try {
      read_idx_u8((d.path / "bad.gz").string());
      ADD_FAILURE() << "accepted: " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  rejected(be(0x01000802) + be(1) + be(1) + "x", "bad magic");
  rejected(be(0x0D02) + be(1) + be(1) + "xxxx", "not supported");
  rejected(be(0x0800), "zero dimensions");
  rejected(be(0x0802) + be(2), "too short");
}

}  // namespace
}  // namespace deepseek::data
