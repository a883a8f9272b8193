// Encrypted linear algebra, polynomial activations, HomoEncryptor, and (Slow) the two
// Fashion-MNIST applications.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <random>

#include "deepseek/security/encrypted/fashion_mnist.h"
#include "deepseek/security/encrypted/homo_encryptor.h"
#include "deepseek/security/encrypted/linear.h"
#include "deepseek/security/encrypted/logistic_regression.h"
#include "deepseek/security/encrypted/matmul.h"
#include "deepseek/security/encrypted/mlp.h"
#include "deepseek/security/encrypted/poly_approx.h"

using namespace deepseek::security;
namespace ckks = deepseek::security::ckks;

namespace {
const std::string kKey = "seed:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
std::vector<double> rnd(std::size_t n, unsigned seed) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> d(-1, 1);
  std::vector<double> v(n);
  for (auto& x : v) x = d(g);
  return v;
}
}  // namespace

TEST(Encrypted, KeyUrisAndRoundTrip) {
  HomoEncryptor enc(kKey, ckks::CkksParameters::preset(8192));
  PlainTensor raw{rnd(30 * 5, 1), {30, 5}};
  auto secure = enc.encrypt(raw);
  EXPECT_EQ(secure.shape, raw.shape);
  auto back = enc.decrypt(secure);
  for (std::size_t i = 0; i < raw.data.size(); ++i) ASSERT_NEAR(back.data[i], raw.data[i], 1e-6);
  EXPECT_THROW(HomoEncryptor("pkcs11:token=x;object=y"), deepseek::Error);  // no HSM source registered
  EXPECT_THROW(HomoEncryptor("seed:12"), deepseek::Error);
  EXPECT_THROW(HomoEncryptor("nokey"), deepseek::Error);
  // A registered scheme plugs in (what the HSM module does for pkcs11:).
  struct Fixed : KeySource {
    ckks::Seed secret_seed() override { return ckks::Seed{}; }
    std::string uri() const override { return "test:fixed"; }
  };
  register_key_source("test", [](const std::string&) { return std::make_unique<Fixed>(); });
  HomoEncryptor e2("test:fixed", ckks::CkksParameters::preset(8192));
  EXPECT_EQ(e2.key_uri(), "test:fixed");
}

TEST(Encrypted, PolynomialApproximationsStateTheirError) {
  auto s3 = sigmoid_approx(3, 8);
  EXPECT_LT(s3.max_error, 0.12);  // least squares on [-8, 8]: 0.113
  EXPECT_EQ(s3.depth(), 2);
  auto r2 = relu_approx(2, 4);
  EXPECT_LT(r2.max_error, 0.5);
  HomoEncryptor enc(kKey, ckks::CkksParameters::preset(16384));
  const auto& ev = enc.evaluator();
  auto x = rnd(64, 2);
  for (auto& v : x) v *= 8;
  std::vector<double> pad(enc.context()->slots(), 0.0);
  std::copy(x.begin(), x.end(), pad.begin());
  PlainTensor raw{pad, {pad.size()}};
  auto ct = enc.encrypt(raw).cts[0];
  auto y = enc.decrypt_slots(evaluate_polynomial(ev, ct, s3));
  for (std::size_t i = 0; i < x.size(); ++i) {
    ASSERT_NEAR(y[i], s3(x[i]), 1e-4);                              // CKKS error of the evaluation
    ASSERT_NEAR(y[i], 1 / (1 + std::exp(-x[i])), s3.max_error + 1e-4);  // stated approximation error
  }
}

TEST(Encrypted, PlainMatrixTimesEncryptedVector) {
  HomoEncryptor enc(kKey, ckks::CkksParameters::preset(8192));
  const auto& ev = enc.evaluator();
  // Several shapes: wide (folded), tall (m' > period), square, batch of 4 interleaved.
  for (auto [rows, cols, batch] : {std::tuple{10, 50, 1}, {70, 20, 1}, {32, 32, 4}, {128, 784, 1}}) {
    auto w = rnd(std::size_t(rows * cols), unsigned(rows + cols));
    PlainMatrix M(enc.context(), w, std::size_t(rows), std::size_t(cols), std::size_t(batch));
    enc.add_rotations(M.required_rotations());
    std::vector<std::vector<double>> xs;
    for (int b = 0; b < batch; ++b) xs.push_back(rnd(std::size_t(cols), unsigned(100 + b)));
    std::size_t period = 1;
    while (period < std::size_t(cols)) period <<= 1;
    auto ex = enc.encrypt_interleaved(xs, period);
    auto bias = rnd(std::size_t(rows), 9);
    auto ey = M.apply(ev, ex, &bias);
    EXPECT_EQ(ey.level(), ex.level() - 1);
    auto ys = enc.decrypt_interleaved(ey, std::size_t(rows));
    for (int b = 0; b < batch; ++b)
      for (int r = 0; r < rows; ++r) {
        double want = bias[std::size_t(r)];
        for (int c = 0; c < cols; ++c) want += w[std::size_t(r * cols + c)] * xs[std::size_t(b)][std::size_t(c)];
        ASSERT_NEAR(ys[std::size_t(b)][std::size_t(r)], want, 1e-4) << rows << "x" << cols << " b=" << b << " r=" << r;
      }
  }
}

// c (decrypted slots) holds the d x d product a·b within 1e-4.
void expect_product(const std::vector<double>& a, const std::vector<double>& b, const std::vector<double>& c,
                    std::size_t d) {
  for (std::size_t i = 0; i < d; ++i)
    for (std::size_t j = 0; j < d; ++j) {
      double want = 0;
      for (std::size_t k = 0; k < d; ++k) want += a[i * d + k] * b[k * d + j];
      ASSERT_NEAR(c[i * d + j], want, 1e-4) << i << "," << j;
    }
}

TEST(Encrypted, EncryptedMatmulJiang) {
  HomoEncryptor enc(kKey, ckks::CkksParameters::preset(16384));
  const std::size_t d = 8;
  enc.add_rotations(encrypted_matmul_rotations(d));
  auto a = rnd(d * d, 3), b = rnd(d * d, 4);
  auto ea = enc.encrypt_square_matrix(a, d), eb = enc.encrypt_square_matrix(b, d);
  auto ec = encrypted_matmul(enc.evaluator(), ea, eb);
  EXPECT_EQ(ec.level(), ea.level() - 3);
  expect_product(a, b, enc.decrypt_slots(ec.cts[0]), d);
}

// The smallest parameter set the product fits: exactly 3 levels (N=2^13, log QP 218), so every
// rotation and product runs at the lowest level it can, and the result lands on level 0.
TEST(Encrypted, EncryptedMatmulOnExactlyThreeLevels) {
  ckks::CkksParameters p;
  p.poly_degree = 8192;
  p.data_bits = {52, 38, 38, 38};
  p.special_bits = {52};
  p.scale = std::ldexp(1.0, 38);
  HomoEncryptor enc(kKey, p);
  const std::size_t d = 16;
  enc.add_rotations(encrypted_matmul_rotations(d));
  auto a = rnd(d * d, 5), b = rnd(d * d, 6);
  auto ea = enc.encrypt_square_matrix(a, d), eb = enc.encrypt_square_matrix(b, d);
  ASSERT_EQ(ea.level(), 3);
  auto ec = encrypted_matmul(enc.evaluator(), ea, eb);
  EXPECT_EQ(ec.level(), 0);
  expect_product(a, b, enc.decrypt_slots(ec.cts[0]), d);
  // One level short: a named error, not garbage.
  ckks::CkksParameters q = p;
  q.data_bits = {52, 38, 38};
  HomoEncryptor small(kKey, q);
  small.add_rotations(encrypted_matmul_rotations(d));
  auto sa = small.encrypt_square_matrix(a, d), sb = small.encrypt_square_matrix(b, d);
  EXPECT_THROW(encrypted_matmul(small.evaluator(), sa, sb), deepseek::Error);
}

TEST(Encrypted, MissingDatasetNamesThePackage) {
  try {
    load_fashion_mnist("train", 10, "/nonexistent");
    FAIL();
  } catch (const deepseek::Error& e) {
    EXPECT_NE(std::string(e.what()).find("dataset-fashion-mnist"), std::string::npos);
  }
}
