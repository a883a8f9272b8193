// Encrypted linear algebra benchmarks: 784x128 plaintext matrix x encrypted vector (one
// ciphertext, N=2^13, diagonals pre-encoded as a model would be) and 64x64 encrypted x
// encrypted matrix product (Jiang et al.; N=2^13 with exactly the 3 levels it needs, and the
// N=2^14 preset with 7). No SEAL counterpart (SEAL has no
// such API); the goals are printed as the reference.
#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include "bench/security/bench_common.h"
#include "deepseek/security/encrypted/homo_encryptor.h"
#include "deepseek/security/encrypted/linear.h"
#include "deepseek/security/encrypted/matmul.h"

namespace deepseek::bench {

namespace {
// Two d x d matrices with entries in [0, 1] (b a permutation of a's entries).
std::pair<std::vector<double>, std::vector<double>> matmul_operands(std::size_t d) {
  std::vector<double> a(d * d), b(d * d);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = b[(i * 31) % b.size()] = double(i % 17) / 17.0;
  return {a, b};
}
}  // namespace

void bench_linalg(std::vector<BenchResult>& out) {
  using namespace deepseek::security;
  {
    HomoEncryptor enc("seed:random", ckks::CkksParameters::preset(8192));
    std::vector<double> w(128 * 784);
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = double((i * 7919) % 201) / 100.0 - 1.0;
    PlainMatrix M(enc.context(), w, 128, 784);
    enc.add_rotations(M.required_rotations());
    std::vector<double> x(784, 0.25);
    auto ex = enc.encrypt_interleaved({x}, 1024);
    M.prepare(enc.evaluator(), ex.level(), ex.cts[0].scale);
    for (int threads : {1, 2}) {
      omp_set_num_threads(threads);
      Timing t = median_timing([&] { (void)M.apply(enc.evaluator(), ex); }, 5);
      out.push_back(
          {"matvec 784x128 plain x enc (" + std::to_string(threads) + "T)", t.wall_ms, 300.0, "ms",
           "N=2^13; reference = goal 0.3 s; cpu " + std::to_string(int(t.cpu_ms)) + " ms"});
    }
  }
  // 64x64 at N=2^13: d^2 = 4096 = the slot count, and the product needs exactly 3 levels, so
  // the smallest 128-bit parameter set that holds it (log QP = 218) is also the fastest.
  {
    ckks::CkksParameters p;
    p.poly_degree = 8192;
    p.data_bits = {52, 38, 38, 38};
    p.special_bits = {52};
    p.scale = std::ldexp(1.0, 38);
    HomoEncryptor enc("seed:random", p);
    const std::size_t d = 64;
    enc.add_rotations(encrypted_matmul_rotations(d));
    auto [a, b] = matmul_operands(d);
    auto ea = enc.encrypt_square_matrix(a, d), eb = enc.encrypt_square_matrix(b, d);
    omp_set_num_threads(1);
    auto c = enc.decrypt_slots(
        encrypted_matmul(enc.evaluator(), ea, eb).cts[0]);  // also fills the cache
    double err = 0;
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t j = 0; j < d; ++j) {
        double want = 0;
        for (std::size_t k = 0; k < d; ++k) want += a[i * d + k] * b[k * d + j];
        err = std::max(err, std::abs(c[i * d + j] - want));
      }
    char note[160];
    std::snprintf(note, sizeof note,
                  "N=2^13, log QP 218 (3 levels); max abs error %.1e; reference = goal 0.6 s", err);
    for (int threads : {1, 2}) {
      omp_set_num_threads(threads);
      Timing t = median_timing([&] { (void)encrypted_matmul(enc.evaluator(), ea, eb); }, 5);
      out.push_back({"matmul 64x64 enc x enc N=2^13 (" + std::to_string(threads) + "T)", t.wall_ms,
                     600.0, "ms",
                     std::string(note) + "; cpu " + std::to_string(int(t.cpu_ms)) + " ms"});
    }
  }
  {
    HomoEncryptor enc("seed:random", ckks::CkksParameters::preset(16384));
    const std::size_t d = 64;
    enc.add_rotations(encrypted_matmul_rotations(d));
    auto [a, b] = matmul_operands(d);
    auto ea = enc.encrypt_square_matrix(a, d), eb = enc.encrypt_square_matrix(b, d);
    for (int threads : {1, 2}) {
      omp_set_num_threads(threads);
      if (threads == 1) {
        // First call: also encodes and caches the ~5d plaintext diagonals and masks.
        const auto t0 = std::chrono::steady_clock::now();
        (void)encrypted_matmul(enc.evaluator(), ea, eb);
        const double cold =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count();
        out.push_back({"matmul 64x64 enc x enc, first call (1T)", cold, 600.0, "ms",
                       "N=2^14 preset; includes encoding the cached diagonals"});
      }
      Timing t = median_timing([&] { (void)encrypted_matmul(enc.evaluator(), ea, eb); }, 3);
      out.push_back({"matmul 64x64 enc x enc (" + std::to_string(threads) + "T)", t.wall_ms, 600.0,
                     "ms",
                     "N=2^14 preset (7 levels); reference = goal 0.6 s; cpu " +
                         std::to_string(int(t.cpu_ms)) + " ms"});
    }
  }
  omp_set_num_threads(1);
}

}  // namespace deepseek::bench
