// Encoding and encryption round trips at full level.
#include "ckks_test_util.h"

using namespace deepseek::security::ckks;
using namespace deepseek::security::ckks::testing;

TEST(CkksEncode, EncodeDecodeRoundTrip) {
  const auto& f = fixture(8192);
  auto x = random_vector(f.ctx->slots(), -10, 10, 1);
  auto y = f.encoder->decode(f.encoder->encode(x));
  EXPECT_LT(max_abs_error(y, x), 1e-8);
  // Complex values and a constant.
  std::vector<std::complex<double>> z(f.ctx->slots());
  for (std::size_t i = 0; i < z.size(); ++i) z[i] = {std::sin(double(i)), std::cos(3.0 * i)};
  auto w = f.encoder->decode_complex(f.encoder->encode(std::span<const std::complex<double>>(z)));
  for (std::size_t i = 0; i < z.size(); ++i) ASSERT_LT(std::abs(w[i] - z[i]), 1e-8);
  auto c = f.encoder->decode(f.encoder->encode_constant(-2.5));
  for (double v : c) ASSERT_NEAR(v, -2.5, 1e-9);
  // Values times scale beyond 2^63 still encode exactly (q_0 is 60 bits, chain much larger).
  std::vector<double> big(8, 3.0e6);
  auto bd = f.encoder->decode(f.encoder->encode(big, std::ldexp(1.0, 60)));
  EXPECT_NEAR(bd[0], 3.0e6, 1e-6);
  EXPECT_THROW(f.encoder->encode(std::vector<double>(f.ctx->slots() + 1)), deepseek::Error);
}

TEST(CkksEncrypt, DecryptEncryptWithin2ToMinus20AtFullLevel) {
  for (std::size_t n : {8192u, 16384u}) {
    const auto& f = fixture(n);
    auto x = random_vector(f.ctx->slots(), -1, 1, 2);
    for (const Encryptor* e : {f.encryptor.get(), f.sym_encryptor.get()}) {
      Ciphertext ct = e->encrypt(f.encoder->encode(x));
      EXPECT_EQ(ct.level, f.ctx->max_level());
      auto y = f.decrypt(ct);
      double rel = max_abs_error(y, x) / max_abs(x);
      EXPECT_LT(rel, std::ldexp(1.0, -20)) << "n=" << n << (e->is_symmetric() ? " symmetric" : " public");
      EXPECT_EQ(e->is_symmetric(), ct.c1_seed.has_value());
    }
  }
}

TEST(CkksEncrypt, SeededSecretIsReproducibleAndKeysAreBound) {
  const auto& f = fixture(8192);
  Seed seed{};
  seed[0] = 42;
  KeyGenerator a(f.ctx, seed), b(f.ctx, seed);
  auto x = random_vector(16, -1, 1, 3);
  Encryptor e(f.ctx, a.create_public_key());
  Decryptor d(f.ctx, b.secret_key());
  auto y = f.encoder->decode(d.decrypt(e.encrypt(f.encoder->encode(x))));
  EXPECT_LT(max_abs_error({y.begin(), y.begin() + 16}, x), 1e-6);
  // A ciphertext from another parameter set is refused, not misread.
  const auto& g = fixture(16384);
  Ciphertext other = g.encrypt(x);
  EXPECT_THROW(f.decryptor->decrypt(other), deepseek::Error);
  EXPECT_THROW(f.eval->add(f.encrypt(x), other), deepseek::Error);
}
