#include "deepseek/security/ckks/params.h"

#include <cmath>
#include <sstream>

#include "deepseek/core/error.h"

namespace deepseek::security::ckks {

int max_log_qp_128(std::size_t n) {
  // HomomorphicEncryption.org security standard (2018), Table 1, classical 128-bit, ternary
  // (uniform) secret; 2^16 from the same model (as used by SEAL / OpenFHE).
  switch (n) {
    case 1024: return 27;
    case 2048: return 54;
    case 4096: return 109;
    case 8192: return 218;
    case 16384: return 438;
    case 32768: return 881;
    case 65536: return 1772;
    default:
      DS_THROW("[ckks] ring degree N = ", n,
               " is not in the 128-bit security table (supported: 2^10 .. 2^16)");
  }
}

void CkksParameters::validate() const {
  DS_CHECK(poly_degree != 0 && (poly_degree & (poly_degree - 1)) == 0,
           "[ckks] ring degree must be a power of two, got ", poly_degree);
  const int max_bits = max_log_qp_128(poly_degree);
  DS_CHECK(!data_bits.empty(), "[ckks] at least one data prime is required");
  DS_CHECK(!special_bits.empty(), "[ckks] at least one special prime is required for key switching");
  DS_CHECK(data_bits.size() + special_bits.size() <= 64, "[ckks] at most 64 primes in a chain");
  int total = 0;
  for (int b : data_bits) {
    DS_CHECK(b >= 20 && b <= 60, "[ckks] data prime sizes must be in [20, 60] bits, got ", b);
    total += b;
  }
  for (int b : special_bits) {
    DS_CHECK(b >= 20 && b <= 60, "[ckks] special prime sizes must be in [20, 60] bits, got ", b);
    total += b;
  }
  DS_CHECK(total <= max_bits, "[ckks] parameter set is below 128-bit security: log QP = ", total,
           " bits exceeds the HomomorphicEncryption.org bound of ", max_bits, " bits for N = ",
           poly_degree, " (ternary secret); use fewer or smaller primes, or a larger N");
  DS_CHECK(std::isfinite(scale) && scale >= 2.0 && scale < std::ldexp(1.0, 60),
           "[ckks] default scale must be in [2, 2^60), got ", scale);
}

CkksParameters CkksParameters::preset(std::size_t n, int scale_bits, int special_primes) {
  const int budget = max_log_qp_128(n);
  DS_CHECK(scale_bits >= 20 && scale_bits <= 59, "[ckks] scale bits must be in [20, 59], got ", scale_bits);
  CkksParameters p;
  p.poly_degree = n;
  p.scale = std::ldexp(1.0, scale_bits);
  const int q0 = std::min(60, scale_bits + 20);
  if (special_primes <= 0) special_primes = n >= 32768 ? 3 : n >= 16384 ? 2 : 1;
  const int special = std::min(60, std::max(scale_bits + 10, q0));
  int left = budget - q0 - special_primes * special;
  DS_CHECK(left >= 0, "[ckks] no room for a chain with ", special_primes, " special primes at N = ", n);
  p.data_bits.push_back(q0);
  while (left >= scale_bits) {
    p.data_bits.push_back(scale_bits);
    left -= scale_bits;
  }
  p.special_bits.assign(special_primes, special);
  p.validate();
  return p;
}

std::string CkksParameters::describe() const {
  std::ostringstream os;
  int total = 0;
  os << "N=" << poly_degree << " data=[";
  for (std::size_t i = 0; i < data_bits.size(); ++i) {
    os << (i ? "," : "") << data_bits[i];
    total += data_bits[i];
  }
  os << "] special=[";
  for (std::size_t i = 0; i < special_bits.size(); ++i) {
    os << (i ? "," : "") << special_bits[i];
    total += special_bits[i];
  }
  os << "] logQP=" << total << " scale=2^" << std::log2(scale);
  return os.str();
}

}  // namespace deepseek::security::ckks
