// Rotations with every Galois key, composed rotations, hoisting and conjugation. Bound: 1e-5
// absolute per rotation on inputs in [-1, 1] (scale 2^40, key-switch noise included).
#include "ckks_test_util.h"

using namespace deepseek::security::ckks;
using namespace deepseek::security::ckks::testing;

namespace {
std::vector<double> rotated(const std::vector<double>& x, int steps) {
  const long long n = (long long)x.size();
  std::vector<double> r(x.size());
  for (long long i = 0; i < n; ++i) r[i] = x[(((i + steps) % n) + n) % n];
  return r;
}
}  // namespace

TEST(CkksRotate, EveryGaloisKey) {
  const auto& f = fixture(8192);
  auto x = random_vector(f.ctx->slots(), -1, 1, 20);
  auto cx = f.encrypt(x);
  int checked = 0;
  for (std::size_t s = 1; s < f.ctx->slots(); s <<= 1) {
    for (int steps : {int(s), -int(s)}) {
      ASSERT_TRUE(f.eval->has_rotation_key(steps));
      auto y = f.decrypt(f.eval->rotate(cx, steps));
      ASSERT_LT(max_abs_error(y, rotated(x, steps)), 1e-5) << "steps=" << steps;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 2 * 12);  // slots = 2^12: ±2^0..±2^11
  // Conjugation: on a complex vector.
  std::vector<std::complex<double>> z(f.ctx->slots());
  for (std::size_t i = 0; i < z.size(); ++i) z[i] = {x[i], 0.5 * x[(i + 1) % z.size()]};
  auto cz = f.encryptor->encrypt(f.encoder->encode(std::span<const std::complex<double>>(z)));
  auto w = f.encoder->decode_complex(f.decryptor->decrypt(f.eval->conjugate(cz)));
  for (std::size_t i = 0; i < z.size(); ++i) ASSERT_LT(std::abs(w[i] - std::conj(z[i])), 1e-5);
}

TEST(CkksRotate, ComposedAndHoistedRotations) {
  const auto& f = fixture(8192);
  auto x = random_vector(f.ctx->slots(), -1, 1, 21);
  auto cx = f.encrypt(x);
  for (int steps : {3, 7, -5, 1000, 4095}) {
    ASSERT_LT(max_abs_error(f.decrypt(f.eval->rotate(cx, steps)), rotated(x, steps)), 1e-5) << steps;
  }
  KeyGenerator kg(f.ctx, f.kg->secret_key());
  std::vector<int> steps = {1, 2, 3, 5, 8, 13, -21};
  auto gk = std::make_shared<GaloisKeys>(kg.create_galois_keys(steps));
  Evaluator ev(f.ctx, f.rk, gk);
  auto all = ev.rotate_hoisted(cx, steps);
  ASSERT_EQ(all.size(), steps.size());
  for (std::size_t k = 0; k < steps.size(); ++k)
    ASSERT_LT(max_abs_error(f.decrypt(all[k]), rotated(x, steps[k])), 1e-5) << steps[k];
  // At a lower level too.
  auto low = ev.mod_switch_to(cx, 1);
  auto lr = ev.rotate_hoisted(low, {13});
  EXPECT_LT(max_abs_error(f.decrypt(lr[0]), rotated(x, 13)), 1e-5);
  EXPECT_THROW(ev.rotate_hoisted(cx, {4}), deepseek::Error);  // no key for 4
  Evaluator bare(f.ctx);
  EXPECT_THROW(bare.rotate(cx, 1), deepseek::Error);
  EXPECT_THROW(bare.relinearize(bare.multiply(cx, cx)), deepseek::Error);
}
