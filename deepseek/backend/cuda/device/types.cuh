// Device-side element types. f16 and bf16 are stored as CUDA's __half / __nv_bfloat16 (the
// same bits as deepseek::Half / BFloat16) and computed in f32, like the CPU kernels' opmath.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "deepseek/core/dtype.h"
#include "deepseek/core/error.h"

namespace deepseek::cuda {

template <typename T> struct OpMathT { using type = T; };
template <> struct OpMathT<__half> { using type = float; };
template <> struct OpMathT<__nv_bfloat16> { using type = float; };
template <typename T> using opmath = typename OpMathT<T>::type;

template <typename T> struct Tag { using type = T; };

// Value conversion between any two element types, through the wider compute type (as CPU).
template <typename To, typename From>
__host__ __device__ __forceinline__ To cvt(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<From, __half> || std::is_same_v<From, __nv_bfloat16>) {
    return cvt<To>(static_cast<float>(v));
  } else if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_same_v<To, __half>) {
    return __float2half_rn(static_cast<float>(v));
  } else if constexpr (std::is_same_v<To, __nv_bfloat16>) {
    return __float2bfloat16_rn(static_cast<float>(v));
  } else {
    return static_cast<To>(v);
  }
}

// Calls f(Tag<T>{}) with the device type of dtype t.
template <typename F>
decltype(auto) visit_cuda_dtype(DType t, F&& f) {
  switch (t) {
    case DType::f32: return f(Tag<float>{});
    case DType::f64: return f(Tag<double>{});
    case DType::f16: return f(Tag<__half>{});
    case DType::bf16: return f(Tag<__nv_bfloat16>{});
    case DType::i8: return f(Tag<int8_t>{});
    case DType::u8: return f(Tag<uint8_t>{});
    case DType::i16: return f(Tag<int16_t>{});
    case DType::i32: return f(Tag<int32_t>{});
    case DType::i64: return f(Tag<int64_t>{});
    case DType::b8: return f(Tag<bool>{});
    default: break;
  }
  DS_THROW("dtype ", dtype_name(t), " is not supported on CUDA");
}

template <typename F>
decltype(auto) visit_cuda_floating(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::f32: return f(Tag<float>{});
    case DType::f64: return f(Tag<double>{});
    case DType::f16: return f(Tag<__half>{});
    case DType::bf16: return f(Tag<__nv_bfloat16>{});
    default: break;
  }
  DS_THROW("[", op, "] expects a floating-point tensor on CUDA, got ", dtype_name(t));
}

template <typename T> constexpr bool is_float_v =
    std::is_floating_point_v<T> || std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;

}  // namespace deepseek::cuda
