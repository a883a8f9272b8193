// Serialization round trips; corrupted / truncated inputs are rejected with deepseek::Error
// (never a crash), including a bounded random-mutation fuzz run.
#include <chrono>
#include <cstring>

#include "ckks_test_util.h"

using namespace deepseek::security::ckks;
using namespace deepseek::security::ckks::testing;

TEST(CkksSerialize, RoundTripsAllObjects) {
  const auto& f = fixture(8192);
  const CkksContext& c = *f.ctx;
  auto x = random_vector(c.slots(), -1, 1, 30);
  // Seeded symmetric ciphertext: roughly half the size of a public-key one.
  Ciphertext sym = f.sym_encryptor->encrypt(f.encoder->encode(x));
  Ciphertext pub = f.encryptor->encrypt(f.encoder->encode(x));
  Bytes bs = serialize(c, sym), bp = serialize(c, pub);
  EXPECT_LT(double(bs.size()), 0.55 * double(bp.size()));
  for (const Bytes* b : {&bs, &bp}) {
    Ciphertext back = deserialize_ciphertext(c, *b);
    EXPECT_LT(max_abs_error(f.decrypt(back), x), 1e-6);
  }
  // A 3-part ciphertext at a lower level.
  Ciphertext m = f.eval->multiply(f.eval->mod_switch_to(pub, 1), pub);
  Ciphertext mb = deserialize_ciphertext(c, serialize(c, m));
  EXPECT_EQ(mb.size(), 3u);
  EXPECT_EQ(mb.level, 1);
  for (std::size_t k = 0; k < 3; ++k)
    EXPECT_TRUE(std::equal(m.parts[k].data(), m.parts[k].data() + m.parts[k].limbs() * c.n(), mb.parts[k].data()));
  // Plaintext.
  Plaintext pt = f.encoder->encode(x, 0, 1);
  Plaintext pb = deserialize_plaintext(c, serialize(c, pt));
  EXPECT_EQ(pb.level, 1);
  EXPECT_LT(max_abs_error(f.encoder->decode(pb), x), 1e-8);
  // Keys: public, relin, Galois, secret (seeded: 32 bytes of payload; unseeded: 2 bits/coef).
  PublicKey pk = deserialize_public_key(c, serialize(c, f.pk));
  Encryptor e2(f.ctx, pk);
  EXPECT_LT(max_abs_error(f.decrypt(e2.encrypt(f.encoder->encode(x))), x), 1e-6);
  auto rk = std::make_shared<RelinKeys>(deserialize_relin_keys(c, serialize(c, *f.rk)));
  KeyGenerator kg(f.ctx, f.kg->secret_key());
  GaloisKeys few = kg.create_galois_keys({1, -4}, true);
  auto gk = std::make_shared<GaloisKeys>(deserialize_galois_keys(c, serialize(c, few)));
  EXPECT_EQ(gk->keys.size(), 3u);
  Evaluator ev(f.ctx, rk, gk);
  auto prod = f.decrypt(ev.mul(pub, pub));
  for (std::size_t i = 0; i < 64; ++i) ASSERT_NEAR(prod[i], x[i] * x[i], 1e-6);
  auto rot = f.decrypt(ev.rotate(pub, -4));
  for (std::size_t i = 4; i < 64; ++i) ASSERT_NEAR(rot[i], x[i - 4], 1e-6);
  Bytes sk_bytes = serialize_secret(c, f.kg->secret_key());
  EXPECT_LT(sk_bytes.size(), 100u);
  SecretKey sk = deserialize_secret_key(c, sk_bytes);
  Decryptor d2(f.ctx, sk);
  EXPECT_LT(max_abs_error(f.encoder->decode(d2.decrypt(pub)), x), 1e-6);
  SecretKey unseeded = f.kg->secret_key();
  unseeded.seed.reset();
  SecretKey sk2 = deserialize_secret_key(c, serialize_secret(c, unseeded));
  Decryptor d3(f.ctx, sk2);
  EXPECT_LT(max_abs_error(f.encoder->decode(d3.decrypt(pub)), x), 1e-6);
  // Objects of another type or parameter set are refused.
  EXPECT_THROW(deserialize_plaintext(c, bp), deepseek::Error);
  const auto& g = fixture(16384);
  EXPECT_THROW(deserialize_ciphertext(*g.ctx, bp), deepseek::Error);
}

TEST(CkksSerialize, CorruptedAndTruncatedInputsAreRejected) {
  const auto& f = fixture(8192);
  const CkksContext& c = *f.ctx;
  Ciphertext ct = f.sym_encryptor->encrypt(f.encoder->encode(random_vector(8, -1, 1, 31)));
  const Bytes good = serialize(c, ct);
  // Every truncation length in the header region and a spread over the body.
  for (std::size_t len = 0; len < good.size(); len += (len < 128 ? 1 : 997)) {
    std::span<const std::uint8_t> cut(good.data(), len);
    EXPECT_THROW(deserialize_ciphertext(c, cut), deepseek::Error) << "len=" << len;
  }
  // Single-bit flips anywhere.
  for (std::size_t pos = 0; pos < good.size(); pos += (pos < 128 ? 1 : 1013)) {
    Bytes bad = good;
    bad[pos] ^= 0x10;
    EXPECT_THROW(deserialize_ciphertext(c, bad), deepseek::Error) << "pos=" << pos;
  }
  Bytes longer = good;
  longer.push_back(0);
  EXPECT_THROW(deserialize_ciphertext(c, longer), deepseek::Error);
  const Bytes key = serialize(c, *f.rk);
  for (std::size_t len : {std::size_t(0), std::size_t(10), key.size() / 2, key.size() - 1})
    EXPECT_THROW(deserialize_relin_keys(c, std::span<const std::uint8_t>(key.data(), len)), deepseek::Error);
}

TEST(CkksSerialize, BoundedFuzzNeverCrashes) {
  const auto& f = fixture(8192);
  const CkksContext& c = *f.ctx;
  std::vector<Bytes> seeds = {serialize(c, f.sym_encryptor->encrypt(f.encoder->encode({1.0}))),
                              serialize(c, f.encoder->encode({1.0}, 0, 0)), serialize_secret(c, f.kg->secret_key())};
  std::mt19937_64 g(99);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(1000);
  int runs = 0, accepted = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    Bytes b = seeds[g() % seeds.size()];
    switch (g() % 4) {
      case 0: b[g() % b.size()] ^= std::uint8_t(1u << (g() % 8)); break;
      case 1: b.resize(g() % b.size()); break;
      case 2: for (int k = 0; k < 8; ++k) b[g() % b.size()] = std::uint8_t(g()); break;
      default: {
        // Re-seal the checksum so the structural validators are reached too.
        b[4 + g() % std::min<std::size_t>(b.size() - 12, 64)] = std::uint8_t(g());
        std::uint64_t h = 1469598103934665603ull;
        for (std::size_t i = 0; i + 8 < b.size(); ++i) {
          h ^= b[i];
          h *= 1099511628211ull;
        }
        std::memcpy(b.data() + b.size() - 8, &h, 8);
      }
    }
    try {
      (void)deserialize_ciphertext(c, b);
      ++accepted;
    } catch (const deepseek::Error&) {
    }
    try {
      (void)deserialize_plaintext(c, b);
      ++accepted;
    } catch (const deepseek::Error&) {
    }
    try {
      (void)deserialize_secret_key(c, b);
      ++accepted;
    } catch (const deepseek::Error&) {
    }
    ++runs;
  }
  EXPECT_GT(runs, 50);
  RecordProperty("fuzz_runs", runs);
  RecordProperty("fuzz_accepted", accepted);
}
