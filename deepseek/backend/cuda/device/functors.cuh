// Elementwise math as functor structs: the CUDA kernels instantiate them per dtype, and the
// JIT's generated kernels can use the same definitions. Each computes in the op-math type V
// (f32 for f16/bf16); the Cast* wrappers convert storage types in and out, as the CPU does.
#pragma once

#include <cmath>

#include "deepseek/backend/cuda/device/types.cuh"

namespace deepseek::cuda::fn {

// --- wrappers: storage type T <-> op-math type ------------------------------------------------
template <typename T, typename Op>
struct Unary {
  Op op;
  __device__ __forceinline__ T operator()(T x) const { return cvt<T>(op(cvt<opmath<T>>(x))); }
};
template <typename T, typename Op>
struct Binary {
  Op op;
  __device__ __forceinline__ T operator()(T x, T y) const {
    return cvt<T>(op(cvt<opmath<T>>(x), cvt<opmath<T>>(y)));
  }
};
template <typename T, typename Op>
struct Compare {
  Op op;
  __device__ __forceinline__ bool operator()(T x, T y) const {
    return op(cvt<opmath<T>>(x), cvt<opmath<T>>(y));
  }
};
template <typename To, typename From>
struct Convert {
  __device__ __forceinline__ To operator()(From v) const { return cvt<To>(v); }
};
template <typename T>
struct Constant {
  T value;
  __device__ __forceinline__ T operator()() const { return value; }
};
template <typename T>
struct Identity {
  __device__ __forceinline__ T operator()(T v) const { return v; }
};

// --- unary ------------------------------------------------------------------------------------
#define DS_UNARY_FN(Name, expr)                                       \
  struct Name {                                                       \
    template <typename V>                                             \
    __device__ __forceinline__ V operator()(V x) const { return expr; } \
  };
DS_UNARY_FN(Exp, exp(x))
DS_UNARY_FN(Log, log(x))
DS_UNARY_FN(Tanh, tanh(x))
DS_UNARY_FN(Sigmoid, V(1) / (V(1) + exp(-x)))
DS_UNARY_FN(Log1p, log1p(x))
DS_UNARY_FN(Expm1, expm1(x))
DS_UNARY_FN(Sqrt, sqrt(x))
DS_UNARY_FN(Rsqrt, V(1) / sqrt(x))
DS_UNARY_FN(Sin, sin(x))
DS_UNARY_FN(Cos, cos(x))
DS_UNARY_FN(Erf, erf(x))
DS_UNARY_FN(Reciprocal, V(1) / x)
DS_UNARY_FN(Silu, x / (V(1) + exp(-x)))
DS_UNARY_FN(Neg, -x)
DS_UNARY_FN(Abs, x < V(0) ? -x : x)
DS_UNARY_FN(Relu, x > V(0) ? x : (x != x ? x : V(0)))  // NaN propagates
DS_UNARY_FN(Sign, static_cast<V>((V(0) < x) - (x < V(0))))
#undef DS_UNARY_FN

struct Floor {
  template <typename V> __device__ V operator()(V x) const {
    if constexpr (std::is_floating_point_v<V>) return floor(x); else return x;
  }
};
struct Ceil {
  template <typename V> __device__ V operator()(V x) const {
    if constexpr (std::is_floating_point_v<V>) return ceil(x); else return x;
  }
};
struct Round {  // half to even, as PyTorch
  template <typename V> __device__ V operator()(V x) const {
    if constexpr (std::is_floating_point_v<V>) return nearbyint(x); else return x;
  }
};
struct Gelu {
  bool tanh_form;
  template <typename V> __device__ V operator()(V x) const {
    if (tanh_form) {
      V u = V(0.7978845608028654) * (x + V(0.044715) * x * x * x);
      return V(0.5) * x * (V(1) + tanh(u));
    }
    return V(0.5) * x * (V(1) + erf(x * V(0.7071067811865476)));
  }
};
struct Softplus {
  double beta, threshold;
  template <typename V> __device__ V operator()(V x) const {
    V b = static_cast<V>(beta), th = static_cast<V>(threshold);
    return x * b > th ? x : log1p(exp(x * b)) / b;
  }
};
struct Clamp {
  bool has_lo, has_hi;
  double lo, hi;
  template <typename V> __device__ V operator()(V x) const {
    if (has_lo) x = x < static_cast<V>(lo) ? static_cast<V>(lo) : x;
    if (has_hi) x = x > static_cast<V>(hi) ? static_cast<V>(hi) : x;
    return x;
  }
};
struct PowScalar {
  double e;
  template <typename V> __device__ V operator()(V x) const {
    if (e == 2) return static_cast<V>(x * x);
    if (e == 0.5) return static_cast<V>(sqrt(static_cast<double>(x)));
    if constexpr (std::is_same_v<V, float>) return powf(x, static_cast<float>(e));
    else return static_cast<V>(pow(static_cast<double>(x), e));
  }
};
template <typename T>
struct LogicalNot {
  __device__ bool operator()(T v) const { return !(cvt<opmath<T>>(v) != opmath<T>(0)); }
};

// --- binary -----------------------------------------------------------------------------------
struct Add {
  double alpha;
  template <typename V> __device__ V operator()(V x, V y) const {
    if constexpr (std::is_same_v<V, bool>) return x || y;
    else return alpha == 1 ? static_cast<V>(x + y) : static_cast<V>(x + static_cast<V>(alpha) * y);
  }
};
struct Sub {
  double alpha;
  template <typename V> __device__ V operator()(V x, V y) const {
    return alpha == 1 ? static_cast<V>(x - y) : static_cast<V>(x - static_cast<V>(alpha) * y);
  }
};
struct Mul {
  template <typename V> __device__ V operator()(V x, V y) const {
    if constexpr (std::is_same_v<V, bool>) return x && y; else return x * y;
  }
};
struct Div {
  template <typename V> __device__ V operator()(V x, V y) const { return x / y; }
};
struct Pow {
  template <typename V> __device__ V operator()(V x, V y) const {
    if constexpr (std::is_same_v<V, bool>) {
      return x || !y;
    } else if constexpr (std::is_integral_v<V>) {
      if (y < 0) return static_cast<V>(x == 1 ? 1 : (x == -1 ? ((y & 1) ? -1 : 1) : 0));
      // Wraps on overflow, as PyTorch and the CPU kernel: the products in an unsigned type at
      // least as wide as unsigned int (signed overflow is undefined).
      using U = std::conditional_t<(sizeof(V) < sizeof(unsigned)), unsigned, std::make_unsigned_t<V>>;
      U r = 1, b = static_cast<U>(x);
      for (auto e = y; e > 0; e >>= 1) {
        if (e & 1) r *= b;
        b *= b;
      }
      return static_cast<V>(r);
    } else {
      return pow(x, y);
    }
  }
};
struct Maximum {
  template <typename V> __device__ V operator()(V x, V y) const {
    return (x != x) ? x : (y != y ? y : (x > y ? x : y));
  }
};
struct Minimum {
  template <typename V> __device__ V operator()(V x, V y) const {
    return (x != x) ? x : (y != y ? y : (x < y ? x : y));
  }
};
#define DS_CMP_FN(Name, expr) \
  struct Name { template <typename V> __device__ bool operator()(V x, V y) const { return expr; } };
DS_CMP_FN(Eq, x == y)
DS_CMP_FN(Ne, x != y)
DS_CMP_FN(Lt, x < y)
DS_CMP_FN(Le, x <= y)
DS_CMP_FN(Gt, x > y)
DS_CMP_FN(Ge, x >= y)
DS_CMP_FN(LogicalAnd, x != V(0) && y != V(0))
DS_CMP_FN(LogicalOr, x != V(0) || y != V(0))
#undef DS_CMP_FN

template <typename T>
struct Where {
  __device__ T operator()(bool c, T x, T y) const { return c ? x : y; }
};

}  // namespace deepseek::cuda::fn
