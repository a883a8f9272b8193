// Plaintext matrix × encrypted vector by Halevi–Shoup diagonals with baby-step/giant-step.
// For an m×n matrix, the input is in the interleaved layout with period P ≥ n (power of two);
// with m' = next power of two ≥ m and D = max(P, m'), the product is Σ_{k<m'} d_k ⊙ rot(x, k)
// over m' "extended" diagonals d_k[i] = M[i mod m'][(i+k) mod D] (zero outside M), followed by
// log2(D/m') rotate-and-add steps that fold the D/m' partial sums together; the result is the
// interleaved layout with period m'. BSGS splits k = g·b1 + j: the b1 baby rotations of x are
// hoisted (one key-switch decomposition for all), each giant step needs one rotation, and
// the plaintext diagonals are pre-rotated by -g·b1, so a product costs ~2·sqrt(m') + log2(D/m')
// rotations and m' plaintext multiplies, and exactly one level. Vectors longer than the
// slot count are split into column blocks of `slots` (one ciphertext each) and the block
// products summed; outputs longer than the slots become several ciphertexts.
#pragma once

#include <map>
#include <mutex>
#include <vector>

#include "deepseek/security/ckks/evaluator.h"
#include "deepseek/security/encrypted/encrypted_tensor.h"

namespace deepseek::security {

class PlainMatrix {
 public:
  // `rows`×`cols` row-major weights; `input_period` is the period of the input layout (0: the
  // next power of two ≥ cols) and `batch` the number of interleaved samples.
  PlainMatrix(const ckks::ContextPtr& ctx, std::vector<double> weights, std::size_t rows, std::size_t cols,
              std::size_t batch = 1, std::size_t input_period = 0);

  std::size_t rows() const { return rows_; }
  std::size_t cols() const { return cols_; }
  std::size_t output_period() const { return out_period_; }
  // Rotation steps (in slots) the evaluator needs Galois keys for.
  std::vector<int> required_rotations() const;

  // y = M x (+ bias, if given). Consumes one level.
  EncryptedTensor apply(const ckks::Evaluator& ev, const EncryptedTensor& x,
                        const std::vector<double>* bias = nullptr) const;
  // Encodes the diagonals for inputs at `level` with `scale` (done on first use otherwise;
  // call it ahead to keep encoding out of timed regions).
  void prepare(const ckks::Evaluator& ev, int level, double scale) const;

 private:
  struct Block {
    std::size_t row0, col0;  // offsets of this block in M (multi-ciphertext case)
    std::vector<std::vector<double>> diag;  // [g*b1 + j] pre-rotated diagonals, slot-expanded
    std::vector<bool> nonzero;
  };
  const std::vector<ckks::Plaintext>& encoded(const ckks::Evaluator& ev, std::size_t block, int level,
                                              double scale) const;
  ckks::ContextPtr ctx_;
  std::vector<double> w_;
  std::size_t rows_, cols_, batch_, in_period_, out_period_, D_, K_, b1_, b2_, slots_;
  std::size_t row_blocks_ = 1, col_blocks_ = 1;
  std::vector<Block> blocks_;
  mutable std::mutex mu_;
  mutable std::map<std::tuple<std::size_t, int, double>, std::vector<ckks::Plaintext>> cache_;
};

// x ← Σ_{t < count} rot(x, t·stride) by log2(count) rotate-and-add steps (count a power of 2).
ckks::Ciphertext rotate_and_sum(const ckks::Evaluator& ev, const ckks::Ciphertext& x, int stride, std::size_t count);

// Packs `batch` vectors (each of length ≤ period) into the interleaved layout's slot values.
std::vector<double> interleave(const std::vector<std::vector<double>>& vectors, std::size_t period,
                               std::size_t slots);
// Inverse: element i of sample b.
inline double interleaved_at(const std::vector<double>& slots, std::size_t batch, std::size_t i, std::size_t b) {
  return slots[i * batch + b];
}

}  // namespace deepseek::security
