// Encrypted linear algebra benchmarks: 784x128 plaintext matrix x encrypted vector (one
// ciphertext, N=2^13, diagonals pre-encoded as a model would be) and 64x64 encrypted x
// encrypted matrix product (Jiang et al., N=2^14 preset). No SEAL counterpart (SEAL has no
// such API); the goals are printed as the reference.
#include <omp.h>

#include <chrono>
#include <vector>

#include "bench/security/bench_common.h"
#include "deepseek/security/encrypted/homo_encryptor.h"
#include "deepseek/security/encrypted/linear.h"
#include "deepseek/security/encrypted/matmul.h"

namespace deepseek::bench {

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
      double ms = median_ms([&] { (void)M.apply(enc.evaluator(), ex); }, 5);
      out.push_back({"matvec 784x128 plain x enc (" + std::to_string(threads) + "T)", ms, 300.0, "ms",
                     "N=2^13; reference = goal 0.3 s"});
    }
  }
  {
    HomoEncryptor enc("seed:random", ckks::CkksParameters::preset(16384));
    const std::size_t d = 64;
    enc.add_rotations(encrypted_matmul_rotations(d));
    std::vector<double> a(d * d), b(d * d);
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = b[(i * 31) % b.size()] = double(i % 17) / 17.0;
    auto ea = enc.encrypt_square_matrix(a, d), eb = enc.encrypt_square_matrix(b, d);
    for (int threads : {1, 2}) {
      omp_set_num_threads(threads);
      if (threads == 1) {
        // First call: also encodes and caches the ~5d plaintext diagonals and masks.
        const auto t0 = std::chrono::steady_clock::now();
        (void)encrypted_matmul(enc.evaluator(), ea, eb);
        const double cold = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        out.push_back({"matmul 64x64 enc x enc, first call (1T)", cold, 600.0, "ms",
                       "N=2^14 preset; includes encoding the cached diagonals"});
      }
      double ms = median_ms([&] { (void)encrypted_matmul(enc.evaluator(), ea, eb); }, 3);
      out.push_back({"matmul 64x64 enc x enc (" + std::to_string(threads) + "T)", ms, 600.0, "ms",
                     "N=2^14 preset; reference = goal 0.6 s"});
    }
  }
  omp_set_num_threads(1);
}

}  // namespace deepseek::bench
