// Sum of independent ciphertext terms computed in parallel, one whole term per thread at a
// time. On a small ring (N = 2^13, a few limbs) each CKKS op is too short to split over limbs:
// per-op parallel regions meet the other thread at a barrier every few tens of microseconds,
// and on a shared, loaded machine the waiting thread spins on a core the working one needs.
// Whole terms (a rotation, products, sums) are coarse enough for one barrier per sum. The
// ops nested in a term run serially (nested OpenMP regions are inactive). Ciphertext sums
// are exact modular additions, so the result does not depend on how terms were split.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <optional>

#include "deepseek/security/ckks/evaluator.h"

namespace deepseek::security::detail {

// Σ term(i) over i in [0, count) for the terms that are present (term returns nullopt to
// skip one); nullopt when none is. Exceptions thrown by a term are rethrown here.
inline std::optional<ckks::Ciphertext> parallel_sum(
    const ckks::Evaluator& ev, std::size_t count,
    const std::function<std::optional<ckks::Ciphertext>(std::size_t)>& term) {
  std::optional<ckks::Ciphertext> total;
  std::exception_ptr error;  // exceptions must not leave an OpenMP region
#pragma omp parallel if (count > 1)
  {
    std::optional<ckks::Ciphertext> part;
#pragma omp for schedule(dynamic, 1) nowait
    for (std::size_t i = 0; i < count; ++i) {
      try {
        std::optional<ckks::Ciphertext> t = term(i);
        if (!t) continue;
        if (part)
          ev.add_inplace(*part, *t);
        else
          part = std::move(t);
      } catch (...) {
#pragma omp critical(ds_parallel_sum)
        if (!error) error = std::current_exception();
      }
    }
#pragma omp critical(ds_parallel_sum)
    if (part && !error) {
      if (total)
        ev.add_inplace(*total, *part);
      else
        total = std::move(part);
    }
  }
  if (error) std::rethrow_exception(error);
  return total;
}

}  // namespace deepseek::security::detail
