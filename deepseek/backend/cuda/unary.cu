// Unary elementwise kernels on CUDA (functors in device/functors.cuh).
#include "deepseek/backend/cuda/device/functors.cuh"
#include "deepseek/backend/cuda/device/loops.cuh"

namespace deepseek::cuda {
namespace {

// Float-only math (inputs were promoted to a floating dtype by the op definition).
template <typename Op>
ops::KernelFn floating(Op op) {
  return [op](const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs&) {
    visit_cuda_floating(in[0].dtype(), "unary", [&](auto tag) {
      using T = typename decltype(tag)::type;
      elementwise<T, T>(out[0], {&in[0]}, fn::Unary<T, Op>{op});
    });
  };
}

// Ops defined on every numeric dtype; bool passes through.
template <typename Op>
ops::KernelFn numeric(Op op) {
  return [op](const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs&) {
    visit_cuda_dtype(in[0].dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_same_v<T, bool>) elementwise<T, T>(out[0], {&in[0]}, fn::Identity<T>{});
      else elementwise<T, T>(out[0], {&in[0]}, fn::Unary<T, Op>{op});
    });
  };
}

// gelu_backward(g, x) = g gelu'(x) in opmath (the CPU kernel's formulas).
struct GeluBackward {
  bool tanh_form;
  template <typename V> __device__ V operator()(V g, V x) const {
    V x2 = x * x, d;
    if (tanh_form) {
      const V k = V(0.7978845608028654), c = V(0.044715);
      V t = tanh(k * (x + c * x * x2));
      d = V(0.5) * (V(1) + t) + V(0.5) * x * (V(1) - t * t) * k * (V(1) + V(3) * c * x2);
    } else {
      d = V(0.5) * (V(1) + erf(x * V(0.7071067811865476))) + x * exp(V(-0.5) * x2) * V(0.3989422804014327);
    }
    return g * d;
  }
};

void gelu_backward(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  GeluBackward op{a.get<std::string>("approximate", "none") == "tanh"};
  visit_cuda_floating(in[0].dtype(), "gelu_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    elementwise<T, T, T>(out[0], {&in[0], &in[1]}, fn::Binary<T, GeluBackward>{op});
  });
}

// relu_backward(g, y) = g where y > 0, else 0.
struct ReluBackward {
  template <typename V> __device__ V operator()(V g, V y) const { return y > V(0) ? g : V(0); }
};

void relu_backward(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs&) {
  visit_cuda_floating(in[0].dtype(), "relu_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    elementwise<T, T, T>(out[0], {&in[0], &in[1]}, fn::Binary<T, ReluBackward>{});
  });
}

// Kernels whose functor depends on attributes.
template <typename Make>
ops::KernelFn floating_with(Make make) {
  return [make](const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
    floating(make(a))(in, out, a);
  };
}
template <typename Make>
ops::KernelFn numeric_with(Make make) {
  return [make](const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
    numeric(make(a))(in, out, a);
  };
}

void register_unary_kernels() {
  register_cuda_kernel("exp", floating(fn::Exp{}));
  register_cuda_kernel("log", floating(fn::Log{}));
  register_cuda_kernel("tanh", floating(fn::Tanh{}));
  register_cuda_kernel("sigmoid", floating(fn::Sigmoid{}));
  register_cuda_kernel("log1p", floating(fn::Log1p{}));
  register_cuda_kernel("expm1", floating(fn::Expm1{}));
  register_cuda_kernel("sqrt", floating(fn::Sqrt{}));
  register_cuda_kernel("rsqrt", floating(fn::Rsqrt{}));
  register_cuda_kernel("sin", floating(fn::Sin{}));
  register_cuda_kernel("cos", floating(fn::Cos{}));
  register_cuda_kernel("erf", floating(fn::Erf{}));
  register_cuda_kernel("reciprocal", floating(fn::Reciprocal{}));
  register_cuda_kernel("silu", floating(fn::Silu{}));
  register_cuda_kernel("gelu", floating_with([](const ops::Attrs& a) {
    return fn::Gelu{a.get<std::string>("approximate", "none") == "tanh"};
  }));
  register_cuda_kernel("gelu_backward", gelu_backward);
  register_cuda_kernel("relu_backward", relu_backward);
  register_cuda_kernel("softplus", floating_with([](const ops::Attrs& a) {
    return fn::Softplus{a.get<double>("beta"), a.get<double>("threshold")};
  }));
  register_cuda_kernel("neg", numeric(fn::Neg{}));
  register_cuda_kernel("abs", numeric(fn::Abs{}));
  register_cuda_kernel("relu", numeric(fn::Relu{}));
  register_cuda_kernel("sign", numeric(fn::Sign{}));
  register_cuda_kernel("floor", numeric(fn::Floor{}));
  register_cuda_kernel("ceil", numeric(fn::Ceil{}));
  register_cuda_kernel("round", numeric(fn::Round{}));
  register_cuda_kernel("clamp", numeric_with([](const ops::Attrs& a) {
    bool lo = a.has("min"), hi = a.has("max");
    return fn::Clamp{lo, hi, lo ? a.scalar("min").to_double() : 0.0, hi ? a.scalar("max").to_double() : 0.0};
  }));
  register_cuda_kernel("pow_scalar", numeric_with([](const ops::Attrs& a) {
    return fn::PowScalar{a.scalar("exponent").to_double()};
  }));
  register_cuda_kernel("logical_not", [](auto& in, auto& out, auto&) {
    visit_cuda_dtype(in[0].dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      elementwise<bool, T>(out[0], {&in[0]}, fn::LogicalNot<T>{});
    });
  });
}

}  // namespace
}  // namespace deepseek::cuda

DS_REGISTER(deepseek::cuda::register_unary_kernels);
