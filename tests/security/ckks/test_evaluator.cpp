// Every homomorphic op against the same op on plaintext. Stated bounds (N = 2^13/2^14, scale
// 2^40, inputs in [-1, 1], public-key encryption whose fresh noise is ~1e-7): additive ops and
// mod switch 1e-6 absolute; one multiply (+relinearize, rescale) 1e-5; two levels deep 1e-4.
#include "ckks_test_util.h"

using namespace deepseek::security::ckks;
using namespace deepseek::security::ckks::testing;

namespace {
std::vector<double> apply(const std::vector<double>& a, const std::vector<double>& b,
                          double (*f)(double, double)) {
  std::vector<double> r(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) r[i] = f(a[i], b[i]);
  return r;
}
}  // namespace

TEST(CkksEval, AddSubNegatePlainScalar) {
  const auto& f = fixture(8192);
  const auto& ev = *f.eval;
  auto x = random_vector(f.ctx->slots(), -1, 1, 10), y = random_vector(f.ctx->slots(), -1, 1, 11);
  auto cx = f.encrypt(x), cy = f.encrypt(y);
  EXPECT_LT(max_abs_error(f.decrypt(ev.add(cx, cy)),
                          apply(x, y, [](double a, double b) { return a + b; })),
            1e-6);
  EXPECT_LT(max_abs_error(f.decrypt(ev.sub(cx, cy)),
                          apply(x, y, [](double a, double b) { return a - b; })),
            1e-6);
  EXPECT_LT(
      max_abs_error(f.decrypt(ev.negate(cx)), apply(x, y, [](double a, double) { return -a; })),
      1e-6);
  auto py = f.encoder->encode(y, cx.scale, cx.level);
  EXPECT_LT(max_abs_error(f.decrypt(ev.add_plain(cx, py)),
                          apply(x, y, [](double a, double b) { return a + b; })),
            1e-6);
  EXPECT_LT(max_abs_error(f.decrypt(ev.add_scalar(cx, 0.75)),
                          apply(x, y, [](double a, double) { return a + 0.75; })),
            1e-6);
  EXPECT_LT(max_abs_error(f.decrypt(ev.multiply_int(cx, -3)),
                          apply(x, y, [](double a, double) { return -3 * a; })),
            1e-6);
}

TEST(CkksEval, MultiplyRelinearizeRescale) {
  const auto& f = fixture(8192);
  const auto& ev = *f.eval;
  auto x = random_vector(f.ctx->slots(), -1, 1, 12), y = random_vector(f.ctx->slots(), -1, 1, 13);
  auto cx = f.encrypt(x), cy = f.encrypt(y);
  auto prod = apply(x, y, [](double a, double b) { return a * b; });
  Ciphertext m = ev.multiply(cx, cy);
  EXPECT_EQ(m.size(), 3u);
  EXPECT_LT(max_abs_error(f.decrypt(m), prod), 1e-5);  // 3-part decryption
  Ciphertext r = ev.relinearize(m);
  EXPECT_EQ(r.size(), 2u);
  EXPECT_LT(max_abs_error(f.decrypt(r), prod), 1e-5);
  Ciphertext s = ev.rescale(r);
  EXPECT_EQ(s.level, cx.level - 1);
  EXPECT_DOUBLE_EQ(s.scale, r.scale / double(f.ctx->modulus(cx.level).value));
  EXPECT_LT(max_abs_error(f.decrypt(s), prod), 1e-5);
  // Managed: lands on the canonical scale of the next level.
  Ciphertext mm = ev.mul(cx, cy);
  EXPECT_TRUE(scales_match(mm.scale, f.ctx->level_scale(mm.level)));
  EXPECT_LT(max_abs_error(f.decrypt(mm), prod), 1e-5);
  EXPECT_LT(max_abs_error(f.decrypt(ev.square(cx)),
                          apply(x, x, [](double a, double b) { return a * b; })),
            1e-5);
  // Plaintext and scalar products.
  auto mp = ev.mul_plain(cx, y);
  EXPECT_TRUE(scales_match(mp.scale, f.ctx->level_scale(mp.level)));
  EXPECT_LT(max_abs_error(f.decrypt(mp), prod), 1e-5);
  auto pt = f.encoder->encode(y, f.ctx->params().scale, cx.level);
  EXPECT_LT(max_abs_error(f.decrypt(ev.rescale(ev.multiply_plain(cx, pt))), prod), 1e-5);
  auto ms = ev.mul_scalar(cx, -1.5);
  EXPECT_LT(max_abs_error(f.decrypt(ms), apply(x, x, [](double a, double) { return -1.5 * a; })),
            1e-5);
  // Mod switch keeps the value.
  auto sw = ev.mod_switch_to(cx, 0);
  EXPECT_EQ(sw.level, 0);
  EXPECT_LT(max_abs_error(f.decrypt(sw), x), 1e-6);
}

// Σ a_i ⊙ p_i with one reduction per coefficient is bit-identical to the separate products
// summed (all arithmetic is exact mod q), and refuses mismatched operands.
TEST(CkksEval, MultiplyPlainSumEqualsSumOfProducts) {
  const auto& f = fixture(8192);
  const auto& ev = *f.eval;
  std::vector<Ciphertext> cs;
  std::vector<Plaintext> ps;
  std::vector<double> want(f.ctx->slots(), 0.0);
  for (unsigned k = 0; k < 5; ++k) {
    auto x = random_vector(f.ctx->slots(), -1, 1, 30 + k),
         y = random_vector(f.ctx->slots(), -1, 1, 40 + k);
    cs.push_back(f.encrypt(x));
    ps.push_back(f.encoder->encode(y, f.ctx->params().scale, cs.back().level));
    for (std::size_t i = 0; i < want.size(); ++i) want[i] += x[i] * y[i];
  }
  std::vector<const Ciphertext*> a;
  std::vector<const Plaintext*> p;
  Ciphertext ref = ev.multiply_plain(cs[0], ps[0]);
  for (std::size_t k = 0; k < cs.size(); ++k) {
    a.push_back(&cs[k]);
    p.push_back(&ps[k]);
    if (k) ev.add_inplace(ref, ev.multiply_plain(cs[k], ps[k]));
  }
  Ciphertext got = ev.multiply_plain_sum(a, p);
  ASSERT_EQ(got.parts.size(), ref.parts.size());
  EXPECT_EQ(got.level, ref.level);
  EXPECT_DOUBLE_EQ(got.scale, ref.scale);
  for (std::size_t s = 0; s < got.parts.size(); ++s)
    for (std::size_t i = 0; i < got.parts[s].limbs(); ++i)
      ASSERT_TRUE(
          std::equal(got.parts[s].limb(i), got.parts[s].limb(i) + f.ctx->n(), ref.parts[s].limb(i)))
          << "part " << s << " limb " << i;
  EXPECT_LT(max_abs_error(f.decrypt(ev.rescale(got)), want), 1e-5 * 5);
  // Mismatched levels or counts are errors, not wrong answers.
  Ciphertext low = ev.mod_switch_to(cs[1], cs[1].level - 1);
  EXPECT_THROW(ev.multiply_plain_sum({&cs[0], &low}, {&ps[0], &ps[1]}), deepseek::Error);
  EXPECT_THROW(ev.multiply_plain_sum({&cs[0], &cs[1]}, {&ps[0]}), deepseek::Error);
}

TEST(CkksEval, OperandsAreAlignedAutomatically) {
  const auto& f = fixture(16384);
  const auto& ev = *f.eval;
  auto x = random_vector(f.ctx->slots(), -1, 1, 14), y = random_vector(f.ctx->slots(), -1, 1, 15);
  auto cx = f.encrypt(x), cy = f.encrypt(y);
  // x^2 (level L-1) + y (level L) and x^2 * y: different levels.
  auto x2 = ev.mul(cx, cx);
  auto sum = ev.add(x2, cy);
  EXPECT_EQ(sum.level, x2.level);
  std::vector<double> want(x.size()), want2(x.size()), want3(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    want[i] = x[i] * x[i] + y[i];
    want2[i] = x[i] * x[i] * y[i];
    want3[i] = x[i] * x[i] * x[i] * x[i] - y[i];
  }
  EXPECT_LT(max_abs_error(f.decrypt(sum), want), 1e-5);
  EXPECT_LT(max_abs_error(f.decrypt(ev.mul(x2, cy)), want2), 1e-5);
  auto x4 = ev.mul(x2, x2);
  EXPECT_LT(max_abs_error(f.decrypt(ev.sub(x4, cy)), want3), 1e-4);
  // Same level, different scales: one level is spent to reconcile them.
  auto odd = f.encryptor->encrypt(f.encoder->encode(y, std::ldexp(1.0, 35)));
  auto mixed = ev.add(cx, odd);
  EXPECT_EQ(mixed.level, cx.level - 1);
  EXPECT_LT(max_abs_error(f.decrypt(mixed), apply(x, y, [](double a, double b) { return a + b; })),
            1e-4);
}

TEST(CkksEval, DepthExhaustedNamesNeededAndHad) {
  const auto& f = fixture(8192);
  const auto& ev = *f.eval;
  auto c = f.encrypt(random_vector(8, -1, 1, 16));
  c = ev.mul(c, c);
  c = ev.mul(c, c);
  ASSERT_EQ(c.level, 0);
  try {
    ev.mul(c, c);
    FAIL() << "multiply at level 0 succeeded";
  } catch (const DepthExhausted& e) {
    EXPECT_EQ(e.needed(), 1);
    EXPECT_EQ(e.had(), 0);
    EXPECT_NE(std::string(e.what()).find("DepthExhausted"), std::string::npos);
  }
  EXPECT_THROW(ev.rescale(c), DepthExhausted);
  EXPECT_THROW(ev.require_levels(f.encrypt({1.0}), 5, "a degree-31 polynomial"), DepthExhausted);
  // Multiplying without rescaling eventually overflows the modulus: refused with an Error.
  auto d = f.encrypt({0.5});
  auto d2 = ev.relinearize(ev.multiply(d, d));
  EXPECT_THROW(ev.multiply(d2, d2), deepseek::Error);
}
