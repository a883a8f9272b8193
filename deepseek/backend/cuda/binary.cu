// Binary and ternary elementwise kernels on CUDA. Inputs arrive promoted to one dtype.
#include "deepseek/backend/cuda/device/functors.cuh"
#include "deepseek/backend/cuda/device/loops.cuh"

namespace deepseek::cuda {
namespace {

template <typename Op>
void arith(const std::vector<Tensor>& in, std::vector<Tensor>& out, Op op) {
  visit_cuda_dtype(in[0].dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    elementwise<T, T, T>(out[0], {&in[0], &in[1]}, fn::Binary<T, Op>{op});
  });
}

template <typename Op>
ops::KernelFn arith_kernel(Op op) {
  return [op](const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs&) { arith(in, out, op); };
}

template <typename Op>
ops::KernelFn compare_kernel(Op op) {
  return [op](const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs&) {
    visit_cuda_dtype(in[0].dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      elementwise<bool, T, T>(out[0], {&in[0], &in[1]}, fn::Compare<T, Op>{op});
    });
  };
}

double alpha_of(const ops::Attrs& a) { return a.has("alpha") ? a.scalar("alpha").to_double() : 1.0; }

void register_binary_kernels() {
  register_cuda_kernel("add", [](auto& in, auto& out, auto& a) { arith(in, out, fn::Add{alpha_of(a)}); });
  register_cuda_kernel("sub", [](auto& in, auto& out, auto& a) { arith(in, out, fn::Sub{alpha_of(a)}); });
  register_cuda_kernel("mul", arith_kernel(fn::Mul{}));
  register_cuda_kernel("div", arith_kernel(fn::Div{}));
  register_cuda_kernel("pow", arith_kernel(fn::Pow{}));
  register_cuda_kernel("maximum", arith_kernel(fn::Maximum{}));
  register_cuda_kernel("minimum", arith_kernel(fn::Minimum{}));
  register_cuda_kernel("eq", compare_kernel(fn::Eq{}));
  register_cuda_kernel("ne", compare_kernel(fn::Ne{}));
  register_cuda_kernel("lt", compare_kernel(fn::Lt{}));
  register_cuda_kernel("le", compare_kernel(fn::Le{}));
  register_cuda_kernel("gt", compare_kernel(fn::Gt{}));
  register_cuda_kernel("ge", compare_kernel(fn::Ge{}));
  register_cuda_kernel("logical_and", compare_kernel(fn::LogicalAnd{}));
  register_cuda_kernel("logical_or", compare_kernel(fn::LogicalOr{}));
  register_cuda_kernel("where", [](auto& in, auto& out, auto&) {
    visit_cuda_dtype(in[1].dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      elementwise<T, bool, T, T>(out[0], {&in[0], &in[1], &in[2]}, fn::Where<T>{});
    });
  });
}

}  // namespace
}  // namespace deepseek::cuda

DS_REGISTER(deepseek::cuda::register_binary_kernels);
