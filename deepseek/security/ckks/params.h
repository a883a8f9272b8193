// CKKS parameter sets and their security check. A set is the ring degree N, the bit sizes of
// the data primes q_0..q_L (q_0 holds the final message, q_1..q_L are consumed one per rescale)
// and of the special primes p_0..p_{k-1} used only inside hybrid key switching, plus the
// default encoding scale. Every set is checked against the HomomorphicEncryption.org
// standard's 128-bit table for a ternary secret (max log QP 218 / 438 / 881 / 1772 at
// N = 2^13 / 2^14 / 2^15 / 2^16): a chain above the bound is refused, there is no override.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace deepseek::security::ckks {

struct CkksParameters {
  std::size_t poly_degree = 0;     // N, a power of two
  std::vector<int> data_bits;      // q_0 .. q_L
  std::vector<int> special_bits;   // p_0 .. p_{k-1}; k is also the key-switching digit width
  double scale = 0;                // default encoding scale, e.g. 2^40

  // The largest-depth chain for N with the given scale size: q_0 and the special primes are
  // 60-bit (so one key-switch digit of scale primes is dominated by P), scale primes fill
  // the rest of the 128-bit budget.
  static CkksParameters preset(std::size_t n, int scale_bits = 40, int special_primes = 0);

  // Throws deepseek::Error if malformed or above the 128-bit table.
  void validate() const;
  std::string describe() const;
};

// Max log2(QP) for 128-bit security, ternary secret; throws for an N outside the table.
int max_log_qp_128(std::size_t n);

}  // namespace deepseek::security::ckks
