// Encrypted linear algebra benchmarks (filled in with deepseek/security/encrypted).
#include <vector>

#include "bench/security/bench_common.h"

namespace deepseek::bench {
void bench_linalg(std::vector<BenchResult>&) {}
}  // namespace deepseek::bench
