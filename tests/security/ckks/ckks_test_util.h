// Shared fixtures for the CKKS tests: contexts and keys are built once per parameter set
// (key generation dominates a test's run time otherwise) and random inputs are seeded.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "deepseek/security/ckks/ckks.h"

namespace deepseek::security::ckks::testing {

struct Fixture {
  ContextPtr ctx;
  std::unique_ptr<KeyGenerator> kg;
  PublicKey pk;
  std::shared_ptr<RelinKeys> rk;
  std::shared_ptr<GaloisKeys> gk;
  std::unique_ptr<CkksEncoder> encoder;
  std::unique_ptr<Encryptor> encryptor, sym_encryptor;
  std::unique_ptr<Decryptor> decryptor;
  std::unique_ptr<Evaluator> eval;

  std::vector<double> decrypt(const Ciphertext& ct) const { return encoder->decode(decryptor->decrypt(ct)); }
  Ciphertext encrypt(const std::vector<double>& v) const { return encryptor->encrypt(encoder->encode(v)); }
};

inline const Fixture& fixture(std::size_t n, int scale_bits = 40, int special = 0) {
  static std::map<std::tuple<std::size_t, int, int>, std::unique_ptr<Fixture>> cache;
  auto& f = cache[{n, scale_bits, special}];
  if (!f) {
    f = std::make_unique<Fixture>();
    f->ctx = CkksContext::create(CkksParameters::preset(n, scale_bits, special));
    f->kg = std::make_unique<KeyGenerator>(f->ctx);
    f->pk = f->kg->create_public_key();
    f->rk = std::make_shared<RelinKeys>(f->kg->create_relin_keys());
    f->gk = std::make_shared<GaloisKeys>(f->kg->create_galois_keys());
    f->encoder = std::make_unique<CkksEncoder>(f->ctx);
    f->encryptor = std::make_unique<Encryptor>(f->ctx, f->pk);
    f->sym_encryptor = std::make_unique<Encryptor>(f->ctx, f->kg->secret_key());
    f->decryptor = std::make_unique<Decryptor>(f->ctx, f->kg->secret_key());
    f->eval = std::make_unique<Evaluator>(f->ctx, f->rk, f->gk);
  }
  return *f;
}

inline std::vector<double> random_vector(std::size_t n, double lo, double hi, unsigned seed) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

inline double max_abs_error(const std::vector<double>& got, const std::vector<double>& want) {
  double m = 0;
  for (std::size_t i = 0; i < want.size(); ++i) m = std::max(m, std::fabs(got[i] - want[i]));
  return m;
}

inline double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}

}  // namespace deepseek::security::ckks::testing
