// Fused multi-tensor optimizers (the `fused_adam` and `fused_sgd` ops): one launch updates up
// to kChunk parameters with their state, in the same order of operations as the op-by-op path.
#include "deepseek/backend/cuda/device/loops.cuh"

namespace deepseek::cuda {
namespace {

constexpr int kChunk = 24;

// Launches over the n parameters in groups of up to kChunk: fill(c, slot, i) writes parameter
// i's pointers into slot `slot` of chunk c and returns its element count (after checking the
// gradient's dtype); launch(c, grid) runs the kernel on one chunk, a grid row per parameter.
template <typename Chunk, typename Fill, typename Launch>
void for_each_chunk(const std::vector<Tensor>& in, size_t n, const char* op, Fill fill, Launch launch) {
  for (size_t begin = 0; begin < n; begin += kChunk) {
    Chunk c{};
    int count = 0;
    int64_t largest = 1;
    for (size_t i = begin; i < n && count < kChunk; ++i, ++count) {
      DS_CHECK(in[n + i].dtype() == in[i].dtype(), "[", op, "] gradient ", i, " has dtype ",
               dtype_name(in[n + i].dtype()), ", parameter has ", dtype_name(in[i].dtype()));
      largest = std::max(largest, fill(c, count, i));
    }
    launch(c, dim3(blocks_for(largest, kThreads, 1024), count));
    DS_CUDA_LAUNCH_CHECK();
  }
}

template <typename T>
struct AdamChunk {
  T* p[kChunk];
  const T* g[kChunk];
  T* m[kChunk];
  T* v[kChunk];
  int64_t n[kChunk];
  T step_size[kChunk];  // lr / (1 - beta1^step)
  T bc2_sqrt[kChunk];   // sqrt(1 - beta2^step)
};

template <typename T>
struct AdamConsts {
  T one_minus_b1, b2, one_minus_b2, eps, decay, wd;  // decay = 1 - lr * wd (decoupled)
  bool decoupled, maximize, has_wd;
};

template <typename T>
__global__ void fused_adam_kernel(AdamChunk<T> c, AdamConsts<T> k) {
  int t = blockIdx.y;
  int64_t n = c.n[t];
  T* __restrict__ p = c.p[t];
  const T* __restrict__ g = c.g[t];
  T* __restrict__ m = c.m[t];
  T* __restrict__ v = c.v[t];
  T step_size = c.step_size[t], bc2_sqrt = c.bc2_sqrt[t];
  int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    T grad = k.maximize ? -g[i] : g[i];
    T param = p[i];
    if (k.has_wd) {
      if (k.decoupled) param = param * k.decay;
      else grad = grad + k.wd * param;
    }
    T mi = m[i] + (grad - m[i]) * k.one_minus_b1;
    T vi = v[i] * k.b2 + (grad * k.one_minus_b2) * grad;
    T denom = sqrt(vi) / bc2_sqrt + k.eps;
    p[i] = param + (mi * -step_size) / denom;
    m[i] = mi;
    v[i] = vi;
  }
}

template <typename T>
void run(const std::vector<Tensor>& in, const ops::Attrs& a) {
  size_t n = in.size() / 4;
  auto steps = a.get<std::vector<double>>("steps");
  double lr = a.get<double>("lr"), b1 = a.get<double>("beta1"), b2 = a.get<double>("beta2");
  double wd = a.get<double>("weight_decay");
  AdamConsts<T> k{static_cast<T>(1 - b1),      static_cast<T>(b2), static_cast<T>(1 - b2),
                  static_cast<T>(a.get<double>("eps")), static_cast<T>(1 - lr * wd), static_cast<T>(wd),
                  a.get<int64_t>("decoupled") != 0, a.get<int64_t>("maximize") != 0, wd != 0};
  cudaStream_t stream = current_stream(in[0].device().index);
  for_each_chunk<AdamChunk<T>>(
      in, n, "fused_adam",
      [&](AdamChunk<T>& c, int slot, size_t i) {
        c.p[slot] = static_cast<T*>(in[i].raw_data());
        c.g[slot] = static_cast<const T*>(in[n + i].raw_data());
        c.m[slot] = static_cast<T*>(in[2 * n + i].raw_data());
        c.v[slot] = static_cast<T*>(in[3 * n + i].raw_data());
        c.step_size[slot] = static_cast<T>(lr / (1 - std::pow(b1, steps[i])));
        c.bc2_sqrt[slot] = static_cast<T>(std::sqrt(1 - std::pow(b2, steps[i])));
        return c.n[slot] = in[i].numel();
      },
      [&](const AdamChunk<T>& c, dim3 grid) { fused_adam_kernel<T><<<grid, kThreads, 0, stream>>>(c, k); });
}

template <typename T>
struct SgdChunk {
  T* p[kChunk];
  const T* g[kChunk];
  T* buf[kChunk];  // null without a momentum
  int64_t n[kChunk];
  bool first[kChunk];  // the buffer starts as the gradient
};

template <typename T>
struct SgdConsts {
  T lr, momentum, one_minus_dampening, wd;
  bool nesterov, maximize, has_wd;
};

// As optim/sgd.cpp: grad (+ wd p); buf = m buf + (1 - dampening) grad (the gradient at the first
// step); grad = nesterov ? grad + m buf : buf; p += -lr grad.
template <typename T>
__global__ void fused_sgd_kernel(SgdChunk<T> c, SgdConsts<T> k) {
  int t = blockIdx.y;
  int64_t n = c.n[t];
  T* __restrict__ p = c.p[t];
  const T* __restrict__ g = c.g[t];
  T* __restrict__ buf = c.buf[t];
  const bool first = c.first[t];
  int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    T grad = k.maximize ? -g[i] : g[i];
    T param = p[i];
    if (k.has_wd) grad = grad + k.wd * param;
    if (buf) {
      T b = first ? grad : buf[i] * k.momentum + k.one_minus_dampening * grad;
      buf[i] = b;
      grad = k.nesterov ? grad + k.momentum * b : b;
    }
    p[i] = param + -k.lr * grad;
  }
}

template <typename T>
void run_sgd(const std::vector<Tensor>& in, const ops::Attrs& a) {
  const double momentum = a.get<double>("momentum"), wd = a.get<double>("weight_decay");
  const size_t lists = momentum != 0 ? 3 : 2, n = in.size() / lists;
  const auto first = momentum != 0 ? a.get<std::vector<int64_t>>("first") : std::vector<int64_t>(n, 0);
  SgdConsts<T> k{static_cast<T>(a.get<double>("lr")), static_cast<T>(momentum),
                 static_cast<T>(1 - a.get<double>("dampening")), static_cast<T>(wd),
                 a.get<int64_t>("nesterov") != 0, a.get<int64_t>("maximize") != 0, wd != 0};
  cudaStream_t stream = current_stream(in[0].device().index);
  for_each_chunk<SgdChunk<T>>(
      in, n, "fused_sgd",
      [&](SgdChunk<T>& c, int slot, size_t i) {
        c.p[slot] = static_cast<T*>(in[i].raw_data());
        c.g[slot] = static_cast<const T*>(in[n + i].raw_data());
        c.buf[slot] = lists == 3 ? static_cast<T*>(in[2 * n + i].raw_data()) : nullptr;
        c.first[slot] = first[i] != 0;
        return c.n[slot] = in[i].numel();
      },
      [&](const SgdChunk<T>& c, dim3 grid) { fused_sgd_kernel<T><<<grid, kThreads, 0, stream>>>(c, k); });
}

void fused_sgd(const std::vector<Tensor>& in, std::vector<Tensor>&, const ops::Attrs& a) {
  switch (in[0].dtype()) {
    case DType::f32: return run_sgd<float>(in, a);
    case DType::f64: return run_sgd<double>(in, a);
    default: DS_THROW("[fused_sgd] on CUDA supports f32 and f64 parameters, got ", dtype_name(in[0].dtype()));
  }
}

void fused_adam(const std::vector<Tensor>& in, std::vector<Tensor>&, const ops::Attrs& a) {
  switch (in[0].dtype()) {
    case DType::f32: return run<float>(in, a);
    case DType::f64: return run<double>(in, a);
    default: DS_THROW("[fused_adam] on CUDA supports f32 and f64 parameters, got ", dtype_name(in[0].dtype()));
  }
}

void register_optim_kernels() {
  register_cuda_kernel("fused_adam", fused_adam);
  register_cuda_kernel("fused_sgd", fused_sgd);
}

}  // namespace
}  // namespace deepseek::cuda

DS_REGISTER(deepseek::cuda::register_optim_kernels);
