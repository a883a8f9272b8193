// Element types, their sizes and names, the one type-promotion table (PyTorch's category
// rules), and visit_dtype, which turns a run-time DType into a compile-time C++ type.
#pragma once

#include <cstdint>
#include <string>

#include "deepseek/core/error.h"
#include "deepseek/core/half.h"

namespace deepseek {

enum class DType : uint8_t {
  b8, u8, i8, i16, i32, i64, f16, bf16, f32, f64,
  // Reserved so the enum's values never move once they ship; no kernels yet.
  c64, f8e4m3, f8e5m2, i4,
};
inline constexpr int kNumDTypes = 10;  // the usable ones, b8..f64

size_t itemsize(DType t);
const char* dtype_name(DType t);   // "f32", "i64", ...
DType dtype_from_name(const std::string& name);
bool is_floating(DType t);
bool is_integral(DType t, bool include_bool = false);
inline bool is_bool(DType t) { return t == DType::b8; }

// The smallest type both a and b convert to without losing their category
// (bool < integer < floating). f16 with bf16 gives f32, as in PyTorch.
DType promote_types(DType a, DType b);

// Result type of an op over operands of which some are 0-d tensors or wrapped numbers (a
// C++/Python scalar): those only raise the result's category, never its width within one.
// A wrapped number that raises the category gives that category's default type (f32, i64).
enum class OperandKind : uint8_t { tensor, zero_dim, wrapped_number };
struct PromotionOperand {
  DType dtype;
  OperandKind kind = OperandKind::tensor;
};
DType result_type(const PromotionOperand* ops, int n);

template <typename T> struct TypeTag { using type = T; };

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<bool>() { return DType::b8; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::u8; }
template <> constexpr DType dtype_of<int8_t>() { return DType::i8; }
template <> constexpr DType dtype_of<int16_t>() { return DType::i16; }
template <> constexpr DType dtype_of<int32_t>() { return DType::i32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }
template <> constexpr DType dtype_of<Half>() { return DType::f16; }
template <> constexpr DType dtype_of<BFloat16>() { return DType::bf16; }
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }

// Arithmetic type for a storage type: f16/bf16 compute in float.
template <typename T> struct OpMath { using type = T; };
template <> struct OpMath<Half> { using type = float; };
template <> struct OpMath<BFloat16> { using type = float; };
template <typename T> using opmath_t = typename OpMath<T>::type;

// visit_dtype(t, [&](auto tag) { using T = typename decltype(tag)::type; ... });
template <typename F>
decltype(auto) visit_dtype(DType t, F&& f) {
  switch (t) {
    case DType::b8: return f(TypeTag<bool>{});
    case DType::u8: return f(TypeTag<uint8_t>{});
    case DType::i8: return f(TypeTag<int8_t>{});
    case DType::i16: return f(TypeTag<int16_t>{});
    case DType::i32: return f(TypeTag<int32_t>{});
    case DType::i64: return f(TypeTag<int64_t>{});
    case DType::f16: return f(TypeTag<Half>{});
    case DType::bf16: return f(TypeTag<BFloat16>{});
    case DType::f32: return f(TypeTag<float>{});
    case DType::f64: return f(TypeTag<double>{});
    default: DS_THROW("dtype ", dtype_name(t), " has no kernels yet");
  }
}

// Same, restricted to floating types (f16, bf16, f32, f64); others raise naming `op`.
template <typename F>
decltype(auto) visit_floating(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::f16: return f(TypeTag<Half>{});
    case DType::bf16: return f(TypeTag<BFloat16>{});
    case DType::f32: return f(TypeTag<float>{});
    case DType::f64: return f(TypeTag<double>{});
    default: DS_THROW("[", op, "] expected a floating-point tensor, got ", dtype_name(t));
  }
}

}  // namespace deepseek
