// Named CKKS errors callers may want to catch specifically. DepthExhausted is raised whenever
// a computation needs more rescaling levels than its ciphertext has left; it reports both
// numbers, so the caller can pick a deeper parameter set or re-encrypt (bootstrap by owner).
#pragma once

#include <string>

#include "deepseek/core/error.h"

namespace deepseek::security::ckks {

class DepthExhausted : public deepseek::Error {
 public:
  DepthExhausted(int needed, int had, const std::string& what)
      : deepseek::Error(::deepseek::detail::str_cat("[ckks] DepthExhausted: ", what, " needs ", needed,
                                        " level(s) but the ciphertext has ", had,
                                        " left; use a deeper parameter set or re-encrypt")),
        needed_(needed),
        had_(had) {}
  int needed() const { return needed_; }
  int had() const { return had_; }

 private:
  int needed_, had_;
};

}  // namespace deepseek::security::ckks
