// Unary elementwise kernels. Float types compute in opmath (f32 for f16/bf16); f32 uses the
// vectorizable vmath functions for exp/log/tanh/sigmoid.
#include <cmath>

#include "deepseek/backend/cpu/vec/vec.h"
#include "deepseek/backend/cpu/vec/vmath.h"

namespace deepseek::cpu::DS_CPU_CAPABILITY {
namespace {

template <typename T> using M = opmath_t<T>;

template <typename MathFn>
ops::KernelFn floating_kernel(MathFn fn) {
  return [fn](const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
    visit_floating(in[0].dtype(), "unary", [&](auto tag) {
      using T = typename decltype(tag)::type;
      auto f = fn.template operator()<M<T>>(a);
      elementwise<T, T>(out[0], {&in[0]}, [f](T v) { return static_cast<T>(f(static_cast<M<T>>(v))); });
    });
  };
}

// For ops defined on every numeric dtype (neg, abs, relu, clamp, sign, floor, ...).
template <typename MathFn>
ops::KernelFn numeric_kernel(MathFn fn) {
  return [fn](const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
    visit_dtype(in[0].dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_same_v<T, bool>) {
        elementwise<T, T>(out[0], {&in[0]}, [](T v) { return v; });
      } else {
        auto f = fn.template operator()<M<T>>(a);
        elementwise<T, T>(out[0], {&in[0]}, [f](T v) { return static_cast<T>(f(static_cast<M<T>>(v))); });
      }
    });
  };
}

#define DS_MATH(expr) [](const ops::Attrs&) { return [](auto x) { return expr; }; }

template <typename V> V fexp(V x) { if constexpr (std::is_same_v<V, float>) return vmath::expf(x); else return std::exp(x); }
template <typename V> V flog(V x) { if constexpr (std::is_same_v<V, float>) return vmath::logf(x); else return std::log(x); }
template <typename V> V ftanh(V x) { if constexpr (std::is_same_v<V, float>) return vmath::tanhf(x); else return std::tanh(x); }

// gelu_backward(g, x) = g gelu'(x), in opmath.
ops::KernelFn gelu_backward_kernel() {
  return [](const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
    const bool tanh_form = a.get<std::string>("approximate", "none") == "tanh";
    visit_floating(in[0].dtype(), "gelu_backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      using V = M<T>;
      elementwise<T, T, T>(out[0], {&in[0], &in[1]}, [tanh_form](T gv, T xv) {
        V g = static_cast<V>(gv), x = static_cast<V>(xv), x2 = x * x, d;
        if (tanh_form) {
          const V k = V(0.7978845608028654), c = V(0.044715);
          V t = ftanh(k * (x + c * x * x2));
          d = V(0.5) * (V(1) + t) + V(0.5) * x * (V(1) - t * t) * k * (V(1) + V(3) * c * x2);
        } else {
          d = V(0.5) * (V(1) + std::erf(x * V(0.7071067811865476))) + x * fexp(V(-0.5) * x2) * V(0.3989422804014327);
        }
        return static_cast<T>(g * d);
      });
    });
  };
}

}  // namespace

void register_unary_kernels() {
  reg("exp", floating_kernel([]<typename V>(const ops::Attrs&) { return [](V x) { return fexp(x); }; }));
  reg("log", floating_kernel([]<typename V>(const ops::Attrs&) { return [](V x) { return flog(x); }; }));
  reg("tanh", floating_kernel([]<typename V>(const ops::Attrs&) { return [](V x) { return ftanh(x); }; }));
  reg("sigmoid", floating_kernel([]<typename V>(const ops::Attrs&) {
    return [](V x) { return V(1) / (V(1) + fexp(-x)); };
  }));
  reg("log1p", floating_kernel([]<typename V>(const ops::Attrs&) { return [](V x) { return std::log1p(x); }; }));
  reg("expm1", floating_kernel([]<typename V>(const ops::Attrs&) { return [](V x) { return std::expm1(x); }; }));
  reg("sqrt", floating_kernel([]<typename V>(const ops::Attrs&) { return [](V x) { return std::sqrt(x); }; }));
  reg("rsqrt", floating_kernel([]<typename V>(const ops::Attrs&) { return [](V x) { return V(1) / std::sqrt(x); }; }));
  reg("sin", floating_kernel([]<typename V>(const ops::Attrs&) { return [](V x) { return std::sin(x); }; }));
  reg("cos", floating_kernel([]<typename V>(const ops::Attrs&) { return [](V x) { return std::cos(x); }; }));
  reg("erf", floating_kernel([]<typename V>(const ops::Attrs&) { return [](V x) { return std::erf(x); }; }));
  reg("reciprocal", floating_kernel([]<typename V>(const ops::Attrs&) { return [](V x) { return V(1) / x; }; }));
  reg("silu", floating_kernel([]<typename V>(const ops::Attrs&) { return [](V x) { return x / (V(1) + fexp(-x)); }; }));
  reg("gelu", floating_kernel([]<typename V>(const ops::Attrs& a) {
    bool tanh_form = a.get<std::string>("approximate", "none") == "tanh";
    return [tanh_form](V x) {
      if (tanh_form) {
        V u = V(0.7978845608028654) * (x + V(0.044715) * x * x * x);
        return V(0.5) * x * (V(1) + ftanh(u));
      }
      return V(0.5) * x * (V(1) + std::erf(x * V(0.7071067811865476)));
    };
  }));
  reg("gelu_backward", gelu_backward_kernel());
  reg("relu_backward", [](const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs&) {
    visit_floating(in[0].dtype(), "relu_backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      elementwise<T, T, T>(out[0], {&in[0], &in[1]}, [](T g, T y) { return static_cast<M<T>>(y) > M<T>(0) ? g : T(0); });
    });
  });
  reg("softplus", floating_kernel([]<typename V>(const ops::Attrs& a) {
    V beta = static_cast<V>(a.get<double>("beta")), th = static_cast<V>(a.get<double>("threshold"));
    return [beta, th](V x) { return x * beta > th ? x : std::log1p(fexp(x * beta)) / beta; };
  }));
  reg("neg", numeric_kernel([]<typename V>(const ops::Attrs&) { return [](V x) { return -x; }; }));
  reg("abs", numeric_kernel([]<typename V>(const ops::Attrs&) { return [](V x) { return x < 0 ? -x : x; }; }));
  reg("relu", numeric_kernel([]<typename V>(const ops::Attrs&) {
    return [](V x) { return x > V(0) ? x : (x != x ? x : V(0)); };  // NaN propagates
  }));
  reg("sign", numeric_kernel([]<typename V>(const ops::Attrs&) {
    return [](V x) { return static_cast<V>((V(0) < x) - (x < V(0))); };
  }));
  reg("floor", numeric_kernel([]<typename V>(const ops::Attrs&) {
    return [](V x) { if constexpr (std::is_floating_point_v<V>) return std::floor(x); else return x; };
  }));
  reg("ceil", numeric_kernel([]<typename V>(const ops::Attrs&) {
    return [](V x) { if constexpr (std::is_floating_point_v<V>) return std::ceil(x); else return x; };
  }));
  reg("round", numeric_kernel([]<typename V>(const ops::Attrs&) {  // half to even, as PyTorch
    return [](V x) { if constexpr (std::is_floating_point_v<V>) return std::nearbyint(x); else return x; };
  }));
  reg("clamp", numeric_kernel([]<typename V>(const ops::Attrs& a) {
    bool has_lo = a.has("min"), has_hi = a.has("max");
    V lo = has_lo ? static_cast<V>(a.scalar("min").to_double()) : V(0);
    V hi = has_hi ? static_cast<V>(a.scalar("max").to_double()) : V(0);
    return [=](V x) {
      if (has_lo) x = x < lo ? lo : x;
      if (has_hi) x = x > hi ? hi : x;
      return x;
    };
  }));
  reg("pow_scalar", numeric_kernel([]<typename V>(const ops::Attrs& a) {
    double e = a.scalar("exponent").to_double();
    return [e](V x) {
      if (e == 2) return static_cast<V>(x * x);
      if (e == 0.5) return static_cast<V>(std::sqrt(static_cast<double>(x)));
      return static_cast<V>(std::pow(static_cast<double>(x), e));
    };
  }));
  reg("logical_not", [](auto& in, auto& out, auto&) {
    visit_dtype(in[0].dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      elementwise<bool, T>(out[0], {&in[0]}, [](T v) { return !(static_cast<M<T>>(v) != M<T>(0)); });
    });
  });
}

}  // namespace deepseek::cpu::DS_CPU_CAPABILITY
