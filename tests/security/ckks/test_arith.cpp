// Modular arithmetic, prime generation and the NTT against naive references.
#include <gtest/gtest.h>

#include <random>

#include "deepseek/security/ckks/modarith.h"
#include "deepseek/security/ckks/ntt.h"
#include "deepseek/security/ckks/primes.h"

using namespace deepseek::security::ckks;

TEST(CkksArith, MillerRabinKnownValues) {
  EXPECT_TRUE(is_prime(2));
  EXPECT_TRUE(is_prime(65537));
  EXPECT_TRUE(is_prime(0xFFFFFFFFFFFFFFC5ull));  // largest 64-bit prime
  EXPECT_FALSE(is_prime(1));
  EXPECT_FALSE(is_prime(561));            // Carmichael
  EXPECT_FALSE(is_prime(3215031751ull));  // strong pseudoprime to bases 2,3,5,7
  EXPECT_FALSE(is_prime(0xFFFFFFFFFFFFFFC5ull - 2));
  EXPECT_FALSE(is_prime(u64(4294967291ull) * 4294967279ull));
}

TEST(CkksArith, BarrettAndShoupMatch128BitRemainder) {
  std::mt19937_64 g(1);
  for (u64 qv : {u64(1) << 20 | 1, u64(1099511480321ull), u64(1152921504606584833ull)}) {
    Modulus q(qv);
    for (int i = 0; i < 20000; ++i) {
      u64 a = g() % qv, b = g() % qv;
      u64 want = u64((u128(a) * b) % qv);
      ASSERT_EQ(mul_mod(a, b, q), want);
      ASSERT_EQ(mul_shoup(a, b, shoup_precompute(b, qv), qv), want);
      u64 big = g();
      ASSERT_EQ(barrett_reduce_64(big, q), big % qv);
    }
  }
}

TEST(CkksArith, GeneratedPrimesAreNttFriendlyAndDistinct) {
  const std::size_t n = 1 << 14;
  auto primes = generate_ntt_primes({60, 40, 40, 40, 50}, n);
  ASSERT_EQ(primes.size(), 5u);
  std::vector<int> bits = {60, 40, 40, 40, 50};
  for (std::size_t i = 0; i < primes.size(); ++i) {
    EXPECT_TRUE(is_prime(primes[i]));
    EXPECT_EQ((primes[i] - 1) % (2 * n), 0u);
    EXPECT_EQ(64 - __builtin_clzll(primes[i]), bits[i]);
    for (std::size_t j = 0; j < i; ++j) EXPECT_NE(primes[i], primes[j]);
  }
  Modulus q(primes[1]);
  u64 psi = minimal_primitive_root(2 * n, q);
  EXPECT_EQ(pow_mod(psi, n, q), q.value - 1);
  EXPECT_THROW(generate_ntt_primes({70}, n), deepseek::Error);
}

namespace {
std::vector<u64> naive_negacyclic(const std::vector<u64>& a, const std::vector<u64>& b,
                                  const Modulus& q) {
  const std::size_t n = a.size();
  std::vector<u64> c(n, 0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      u64 p = mul_mod(a[i], b[j], q);
      std::size_t k = i + j;
      if (k < n)
        c[k] = add_mod(c[k], p, q.value);
      else
        c[k - n] = sub_mod(c[k - n], p, q.value);
    }
  return c;
}
}  // namespace

TEST(CkksArith, NttMultiplicationIsNegacyclicConvolution) {
  std::mt19937_64 g(7);
  for (std::size_t n : {8u, 64u, 512u}) {
    for (int bits : {30, 49, 60}) {
      Modulus q(generate_ntt_primes({bits}, n)[0]);
      NttTables t(n, q);
      std::vector<u64> a(n), b(n);
      for (auto& x : a) x = g() % q.value;
      for (auto& x : b) x = g() % q.value;
      auto want = naive_negacyclic(a, b, q);
      auto A = a, B = b;
      t.forward(A.data());
      t.forward(B.data());
      for (std::size_t i = 0; i < n; ++i) A[i] = mul_mod(A[i], B[i], q);
      t.inverse(A.data());
      ASSERT_EQ(A, want) << "n=" << n << " bits=" << bits;
    }
  }
}

TEST(CkksArith, NttRoundTripAndEvaluationOrder) {
  const std::size_t n = 1 << 13;
  Modulus q(generate_ntt_primes({55}, n)[0]);
  NttTables t(n, q);
  std::mt19937_64 g(3);
  std::vector<u64> a(n);
  for (auto& x : a) x = g() % q.value;
  auto A = a;
  t.forward(A.data());
  for (u64 v : A) ASSERT_LT(v, q.value);
  // a[k] = A(psi^(2 brev(k) + 1)) for a few k, by Horner.
  for (std::size_t k : {std::size_t(0), std::size_t(1), std::size_t(777), n - 1}) {
    u64 x = pow_mod(t.psi(), 2 * bit_reverse(k, 13) + 1, q), acc = 0;
    for (std::size_t i = n; i-- > 0;) acc = add_mod(mul_mod(acc, x, q), a[i], q.value);
    ASSERT_EQ(A[k], acc);
  }
  t.inverse(A.data());
  ASSERT_EQ(A, a);
}

TEST(CkksArith, VectorKernelSelectedOnlyWhenSupported) {
  const std::string backend = ntt_backend();
  if (cpu_has_avx512_ifma()) {
    EXPECT_EQ(backend, "avx512ifma");
  } else if (cpu_has_avx2_fma()) {
    EXPECT_EQ(backend, "avx2fma");
  } else {
    EXPECT_EQ(backend, "scalar")
        << "a vector kernel was selected on a CPU without AVX-512 IFMA or AVX2";
  }
  // Whichever kernel runs must agree with the scalar one bit for bit, at every size from the
  // smallest (only the shuffled short-span layers) up, for primes up to the 2^52 limit of the
  // AVX2 kernel (its lazy variant below 2^50, its fully reduced one above) and past it.
  std::mt19937_64 g(5);
  for (std::size_t n : {8u, 16u, 64u, 1u << 12, 1u << 15}) {
    for (int bits : {30, 46, 49, 50, 51, 52, 53}) {
      Modulus q(generate_ntt_primes({bits}, n)[0]);
      NttTables t(n, q);
      std::vector<u64> a(n);
      for (auto& x : a) x = g() % q.value;
      a[0] = q.value - 1;  // the extremes of the input range
      a[n - 1] = 0;
      auto v = a, s = a;
      t.forward(v.data());
      t.forward_scalar(s.data());
      ASSERT_EQ(v, s) << "n=" << n << " bits=" << bits;
      t.inverse(v.data());
      t.inverse_scalar(s.data());
      ASSERT_EQ(v, s) << "n=" << n << " bits=" << bits;
      ASSERT_EQ(v, a) << "n=" << n << " bits=" << bits;
    }
  }
  // Many small transforms with residues drawn from the extremes, where a product's error
  // bound is tightest.
  for (int bits : {49, 50, 51, 52}) {
    const std::size_t n = 16;
    Modulus q(generate_ntt_primes({bits}, n)[0]);
    NttTables t(n, q);
    for (int rep = 0; rep < 3000; ++rep) {
      std::vector<u64> a(n);
      for (auto& x : a) {
        const u64 pick = g() % 4;
        x = pick == 0 ? q.value - 1 - g() % 4 : pick == 1 ? g() % 4 : g() % q.value;
      }
      auto v = a, s = a;
      t.forward(v.data());
      t.forward_scalar(s.data());
      ASSERT_EQ(v, s) << "bits=" << bits;
      t.inverse(v.data());
      t.inverse_scalar(s.data());
      ASSERT_EQ(v, s) << "bits=" << bits;
    }
  }
  set_ntt_force_scalar(true);
  EXPECT_EQ(ntt_backend(), "scalar");
  set_ntt_force_scalar(false);
}

// reduce_product (single-word Barrett) against the exact remainder, for products and sums of
// two products of residues, over primes of every size the chains use, including the extremes.
TEST(CkksArith, ReduceProductMatchesExactRemainder) {
  std::mt19937_64 rng(7);
  for (u64 q : {u64(3), u64(65537), u64(1) << 40 | 1, (u64(1) << 50) - 27, (u64(1) << 60) - 93,
                (u64(1) << 61) - 1}) {
    const Modulus m(q);
    auto check = [&](u64 a, u64 b, u64 c, u64 d) {
      const u128 p1 = u128(a) * b, p2 = u128(a) * b + u128(c) * d;
      ASSERT_EQ(reduce_product(p1, m), u64(p1 % q)) << q;
      ASSERT_EQ(reduce_product(p2, m), u64(p2 % q)) << q;
    };
    check(q - 1, q - 1, q - 1, q - 1);
    check(0, 0, 0, 0);
    check(1, q - 1, q - 1, 1);
    for (int i = 0; i < 200000; ++i) check(rng() % q, rng() % q, rng() % q, rng() % q);
  }
}

// SumReducer against the exact remainder for sums of `terms` products a·b (a < 2^abits, b < q)
// at the widest bound it accepts, including all-maximal terms; wider sums must be refused.
TEST(CkksArith, SumReducerMatchesExactRemainder) {
  std::mt19937_64 rng(11);
  for (u64 q : {u64(3), u64(65537), u64(1) << 40 | 1, (u64(1) << 46) - 87, (u64(1) << 50) - 27,
                (u64(1) << 60) - 93, (u64(1) << 61) - 1}) {
    const Modulus m(q);
    for (int abits : {m.bits, 50, 61}) {
      for (std::size_t terms : {1u, 2u, 3u, 5u, 8u}) {
        const int zbits = sum_bits(abits, m.bits, terms);
        if (!SumReducer::fits(m, zbits)) {
          EXPECT_GT(zbits, m.bits + 63);
          continue;
        }
        const SumReducer red(m, zbits);
        const u64 amax = abits >= 64 ? ~u64(0) : (u64(1) << abits) - 1;
        auto check = [&](auto next_a, auto next_b) {
          u128 z = 0;
          for (std::size_t t = 0; t < terms; ++t) z += u128(next_a()) * next_b();
          ASSERT_EQ(red.reduce(z), u64(z % q)) << q << " abits=" << abits << " terms=" << terms;
        };
        check([&] { return amax; }, [&] { return q - 1; });
        check([&] { return u64(0); }, [&] { return u64(0); });
        for (int i = 0; i < 20000; ++i)
          check([&] { return rng() & amax; }, [&] { return rng() % q; });
      }
    }
  }
}
