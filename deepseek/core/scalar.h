// A number passed to an op from C++ (1, 0.5, true). It keeps its category so type promotion
// can treat it as a "wrapped number" (it never widens a tensor's dtype within a category).
#pragma once

#include <cstdint>
#include <type_traits>

#include "deepseek/core/dtype.h"

namespace deepseek {

class Scalar {
 public:
  Scalar() : kind_(DType::i64), i_(0) {}
  template <typename T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  Scalar(T v) : kind_(DType::i64), i_(static_cast<int64_t>(v)) {}
  template <typename T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
  Scalar(T v) : kind_(DType::f64), d_(static_cast<double>(v)) {}
  Scalar(bool v) : kind_(DType::b8), i_(v) {}

  // The dtype of its category: b8, i64 or f64.
  DType dtype() const { return kind_; }
  bool is_floating() const { return kind_ == DType::f64; }
  double to_double() const { return kind_ == DType::f64 ? d_ : static_cast<double>(i_); }
  int64_t to_int() const { return kind_ == DType::f64 ? static_cast<int64_t>(d_) : i_; }
  template <typename T> T to() const {
    if constexpr (std::is_same_v<T, bool>) return to_double() != 0;
    else if (kind_ == DType::f64) return static_cast<T>(static_cast<opmath_t<T>>(d_));
    else return static_cast<T>(static_cast<opmath_t<T>>(i_));
  }

 private:
  DType kind_;
  union {
    int64_t i_;
    double d_;
  };
};

}  // namespace deepseek
