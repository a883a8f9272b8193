// Errors: every user mistake becomes a deepseek::Error with a message that names the op or
// module at fault. Nothing in the library aborts on bad input; DS_CHECK throws.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace deepseek {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

namespace detail {
template <typename... Args>
std::string str_cat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}
}  // namespace detail

}  // namespace deepseek

// DS_CHECK(cond, "[op] input must be 4-D, got ", shape): throws deepseek::Error when cond fails.
#define DS_CHECK(cond, ...)                                                   \
  do {                                                                        \
    if (!(cond)) [[unlikely]]                                                 \
      throw ::deepseek::Error(::deepseek::detail::str_cat(__VA_ARGS__));      \
  } while (0)

#define DS_THROW(...) throw ::deepseek::Error(::deepseek::detail::str_cat(__VA_ARGS__))
