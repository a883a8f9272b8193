// bench_security: CKKS primitives (and encrypted linear algebra) against Microsoft SEAL
// measured in the same run (bench/security/seal_reference.py, SEAL via TenSEAL's sealapi),
// one thread unless stated, median milliseconds on full-level ciphertexts. Writes
// bench/results/security.json as {"machine","commit","results":[{name,ours,reference,unit,ratio}]}
// with ratio = reference / ours (> 1: we are faster).
//
// Parameter sets: same N and the same data primes as given to SEAL; SEAL always has one
// special prime, we use k special primes (hybrid key switching), within the same 128-bit
// budget: N=2^13 4x~43-bit data + 1 special (218 bits, identical to SEAL's structure);
// N=2^14 8 data (46+7x42) + 2x49 special (438); N=2^15 15 data (50+14x46) + 3x60 special (874).
#include <omp.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bench/security/bench_common.h"
#include "deepseek/security/ckks/ckks.h"

namespace ckks = deepseek::security::ckks;
using deepseek::bench::BenchResult;
using deepseek::bench::median_ms;

namespace deepseek::bench {

namespace {
std::string fmt_ms(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3g", v);
  return b;
}
}  // namespace

ckks::CkksParameters bench_params(std::size_t n) {
  ckks::CkksParameters p;
  p.poly_degree = n;
  if (n == 8192) {
    p.data_bits = {44, 43, 43, 43};
    p.special_bits = {45};
    p.scale = std::ldexp(1.0, 43);
  } else if (n == 16384) {
    p.data_bits = {46, 42, 42, 42, 42, 42, 42, 42};
    p.special_bits = {49, 49};
    p.scale = std::ldexp(1.0, 42);
  } else {
    p.data_bits = {50};
    for (int i = 0; i < 14; ++i) p.data_bits.push_back(46);
    p.special_bits = {60, 60, 60};
    p.scale = std::ldexp(1.0, 46);
  }
  return p;
}

void bench_primitives(std::vector<BenchResult>& out, const std::map<std::string, double>& seal) {
  for (std::size_t n : {8192u, 16384u, 32768u}) {
    auto ctx = ckks::CkksContext::create(bench_params(n));
    ckks::KeyGenerator kg(ctx);
    auto pk = kg.create_public_key();
    auto rk = std::make_shared<ckks::RelinKeys>(kg.create_relin_keys());
    auto gk = std::make_shared<ckks::GaloisKeys>(kg.create_galois_keys({1}));
    ckks::CkksEncoder enc(ctx);
    ckks::Encryptor encryptor(ctx, pk);
    ckks::Evaluator ev(ctx, rk, gk);
    std::vector<double> vals(ctx->slots());
    for (std::size_t i = 0; i < vals.size(); ++i) vals[i] = 0.5 + 0.001 * double(i % 1000);
    auto pt = enc.encode(vals);
    auto a = encryptor.encrypt(pt), b = encryptor.encrypt(pt);
    auto prod = ev.multiply(a, b);
    auto relin = ev.relinearize(prod);
    const int reps = n >= 32768 ? 7 : 11;
    std::map<std::string, std::function<void()>> ops = {
        {"encode", [&] { (void)enc.encode(vals); }},
        {"encrypt", [&] { (void)encryptor.encrypt(pt); }},
        {"add", [&] { (void)ev.add(a, b); }},
        {"multiply", [&] { (void)ev.multiply(a, b); }},
        {"relinearize", [&] { (void)ev.relinearize(prod); }},
        {"rescale", [&] { (void)ev.rescale(relin); }},
        {"rotate", [&] { (void)ev.rotate(a, 1); }},
    };
    const std::vector<std::string> order = {"encode", "encrypt", "add", "multiply", "relinearize", "rescale", "rotate"};
    omp_set_num_threads(1);
    for (const auto& op : order) {
      const double ms = median_ms(ops[op], op == "add" ? reps * 4 : reps);
      const double cpu = median_cpu_ms(ops[op], op == "add" ? reps * 4 : reps);
      const std::string key = op + "@" + std::to_string(n);
      auto it = seal.find(key);
      out.push_back({op + " N=2^" + std::to_string(__builtin_ctzll(n)), ms, it == seal.end() ? NAN : it->second, "ms",
                     "1 thread, " + std::to_string(ctx->max_level() + 1) + " data primes, k=" +
                         std::to_string(ctx->num_special()) + "; cpu " + fmt_ms(cpu) + " ms"});
    }
    if (n == 32768) {
      omp_set_num_threads(2);
      for (const std::string op : {"relinearize", "rotate"}) {
        const double ms = median_ms(ops[op], reps);
        const double cpu = median_cpu_ms(ops[op], reps);
        out.push_back({op + " N=2^15 (2 threads)", ms, 65.0, "ms",
                       "reference = goal 65 ms; cpu (both threads) " + fmt_ms(cpu) + " ms"});
      }
      omp_set_num_threads(1);
    }
  }
}

}  // namespace deepseek::bench
