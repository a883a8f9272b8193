// Casts, copies, fills, creation (including Philox random fills, bit-identical to the CPU's),
// dropout, and moving tensors between the host and devices.
#include <mutex>
#include <vector>

#include "deepseek/backend/cuda/device/functors.cuh"
#include "deepseek/backend/cuda/device/loops.cuh"
#include "deepseek/ops/raw_ops.h"
#include "deepseek/core/generator.h"
#include "deepseek/ops/ops.h"

namespace deepseek::cuda {

void register_cuda_kernel(const char* op, ops::KernelFn fn) {
  ops::Registry::get().register_kernel(op, DeviceType::cuda, std::move(fn));
}

namespace {

// dst = src (broadcast), converting dtypes.
void copy_into(const Tensor& dst, const Tensor& src) {
  visit_cuda_dtype(dst.dtype(), [&](auto to) {
    using To = typename decltype(to)::type;
    visit_cuda_dtype(src.dtype(), [&](auto from) {
      using From = typename decltype(from)::type;
      elementwise<To, From>(dst, {&src}, fn::Convert<To, From>{});
    });
  });
}

template <typename T, typename F>
__global__ void fill_indexed_kernel(T* out, int64_t n, F f) {
  int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    out[i] = cvt<T>(f(i));
}

// out is fresh and contiguous: out[i] = f(i) (a double, converted as on the CPU).
template <typename F>
void fill_indexed(const Tensor& out, F f) {
  int64_t n = out.numel();
  if (n == 0) return;
  visit_cuda_dtype(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    fill_indexed_kernel<<<blocks_for(n, kThreads), kThreads, 0, current_stream()>>>(
        static_cast<T*>(out.raw_data()), n, f);
  });
  DS_CUDA_LAUNCH_CHECK();
}

template <typename T>
__global__ void dropout_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t n, float p,
                               opmath<T> scale, uint64_t seed, uint64_t offset, bool vector) {
  int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  int64_t blocks = (n + 3) / 4;
  for (int64_t b = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; b < blocks; b += stride) {
    auto bits = Philox::block(seed, offset + static_cast<uint64_t>(b));
    if (vector && b * 4 + 4 <= n) {  // the block's four elements as one aligned vector
      Pack<4, T> v = reinterpret_cast<const Pack<4, T>*>(x)[b];
#pragma unroll
      for (int lane = 0; lane < 4; ++lane)
        v.v[lane] = Philox::uniform(bits[lane]) >= p ? cvt<T>(cvt<opmath<T>>(v.v[lane]) * scale) : cvt<T>(0.0f);
      reinterpret_cast<Pack<4, T>*>(y)[b] = v;
      continue;
    }
#pragma unroll
    for (int lane = 0; lane < 4; ++lane) {
      int64_t i = b * 4 + lane;
      if (i >= n) break;
      bool keep = Philox::uniform(bits[lane]) >= p;
      y[i] = keep ? cvt<T>(cvt<opmath<T>>(x[i]) * scale) : cvt<T>(0.0f);
    }
  }
}

// Host tensors that an asynchronous copy still reads (pinned sources) stay alive until the
// copy's event has passed.
struct PendingCopies {
  std::mutex mu;
  std::vector<std::pair<cudaEvent_t, std::shared_ptr<Storage>>> items;
  void add(cudaStream_t s, std::shared_ptr<Storage> keep) {
    cudaEvent_t ev;
    DS_CUDA_CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
    DS_CUDA_CHECK(cudaEventRecord(ev, s));
    std::lock_guard<std::mutex> lock(mu);
    collect_locked();
    items.emplace_back(ev, std::move(keep));
  }
  void collect_locked() {
    size_t k = 0;
    for (auto& it : items) {
      if (cudaEventQuery(it.first) == cudaSuccess) {
        (void)cudaEventDestroy(it.first);
      } else {
        items[k++] = std::move(it);
      }
    }
    items.resize(k);
    (void)cudaGetLastError();
  }
};
PendingCopies& pending() {
  static auto* p = new PendingCopies;
  return *p;
}

void to_cuda(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs&) {
  const Tensor& dst = out[0];
  if (dst.numel() == 0) return;
  const Tensor& src0 = in[0];
  DS_CHECK(!src0.is_meta(), "a meta tensor has no data to copy to ", dst.device().str());
  ops::NoInterposers raw;
  cudaStream_t s = current_stream(dst.device().index);
  if (src0.device().is_cuda()) {  // another GPU
    Tensor src = src0.contiguous();
    DS_CUDA_CHECK(cudaMemcpyPeerAsync(dst.raw_data(), dst.device().index, src.raw_data(),
                                      src.device().index, dst.nbytes(), s));
    return;
  }
  Tensor src = src0.contiguous();
  DS_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), dst.nbytes(), cudaMemcpyHostToDevice, s));
  if (is_pinned(src)) pending().add(s, src.storage());  // truly asynchronous: keep the source
}

void to_cpu(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs&) {
  const Tensor& src0 = in[0];
  DS_CHECK(src0.device().is_cuda(), "cannot copy a ", src0.device().str(), " tensor's data to the CPU",
           src0.is_meta() ? " (meta tensors have no data)" : "");
  if (out[0].numel() == 0) return;
  DeviceGuard g(src0.device().index);
  ops::NoInterposers raw;
  Tensor src = src0.contiguous();
  cudaStream_t s = current_stream();
  DS_CUDA_CHECK(cudaMemcpyAsync(out[0].raw_data(), src.raw_data(), out[0].nbytes(), cudaMemcpyDeviceToHost, s));
  DS_CUDA_CHECK(cudaStreamSynchronize(s));  // the host reads it next
}

uint64_t attr_u64(const ops::Attrs& a, const char* k) {
  return static_cast<uint64_t>(a.get<int64_t>(k));
}

// Values of the creation ops by element index, as the CPU kernels compute them.
struct ArangeAt {
  double start, step;
  // No fused multiply-add, so values round exactly as on the CPU.
  __device__ double operator()(int64_t i) const { return __dadd_rn(start, __dmul_rn(static_cast<double>(i), step)); }
};
struct LinspaceAt {  // symmetric from both ends, as PyTorch, so the last value is exactly `end`
  double start, end, step;
  int64_t n;
  __device__ double operator()(int64_t i) const {
    return i < n / 2 ? __dadd_rn(start, __dmul_rn(step, static_cast<double>(i)))
                     : __dsub_rn(end, __dmul_rn(step, static_cast<double>(n - 1 - i)));
  }
};
struct EyeAt {
  int64_t cols;
  __device__ double operator()(int64_t i) const { return (i / cols) == (i % cols) ? 1.0 : 0.0; }
};
struct UniformAt {
  uint64_t seed, off;
  __device__ double operator()(int64_t i) const {
    auto b = Philox::block(seed, off + static_cast<uint64_t>(i) / 4);
    return static_cast<double>(Philox::uniform(b[i % 4]));
  }
};
struct NormalAt {
  uint64_t seed, off;
  __device__ double operator()(int64_t i) const {
    auto b = Philox::block(seed, off + static_cast<uint64_t>(i) / 4);
    return static_cast<double>(Philox::normal(b, static_cast<int>(i % 4)));
  }
};
struct RandintAt {
  uint64_t seed, off, range;
  int64_t low;
  __device__ double operator()(int64_t i) const {
    auto b = Philox::block(seed, off + static_cast<uint64_t>(i) / 4);
    return static_cast<double>(low + static_cast<int64_t>(b[i % 4] % range));
  }
};

void register_copy_kernels() {
  register_cuda_kernel("cast", [](auto& in, auto& out, auto&) { copy_into(out[0], in[0]); });
  register_cuda_kernel("copy", [](auto& in, auto& out, auto&) { copy_into(out[0], in[1]); });
  register_cuda_kernel("clone", [](auto& in, auto& out, auto&) { copy_into(out[0], in[0]); });
  register_cuda_kernel("empty", [](auto&, auto&, auto&) {});
  auto fill = [](const std::vector<Tensor>&, std::vector<Tensor>& out, const ops::Attrs& a) {
    Scalar v = a.scalar("value");
    visit_cuda_dtype(out[0].dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      T value = is_floating(v.dtype()) ? cvt<T>(v.to<double>()) : cvt<T>(v.to<int64_t>());
      if (v.dtype() == DType::b8) value = cvt<T>(v.to<int64_t>() != 0);
      elementwise<T>(out[0], {}, fn::Constant<T>{value});
    });
  };
  register_cuda_kernel("full", fill);
  register_cuda_kernel("fill", fill);
  register_cuda_kernel("arange", [](auto&, auto& out, auto& a) {
    double start = a.template get<double>("start"), step = a.template get<double>("step");
    fill_indexed(out[0], ArangeAt{start, step});
  });
  register_cuda_kernel("linspace", [](auto&, auto& out, auto& a) {
    double start = a.template get<double>("start"), end = a.template get<double>("end");
    int64_t n = out[0].numel();
    double step = n > 1 ? (end - start) / static_cast<double>(n - 1) : 0;
    fill_indexed(out[0], LinspaceAt{start, end, step, n});
  });
  register_cuda_kernel("eye", [](auto&, auto& out, auto&) {
    int64_t cols = out[0].sizes()[1];
    fill_indexed(out[0], EyeAt{cols});
  });
  register_cuda_kernel("rand", [](auto&, auto& out, auto& a) {
    uint64_t seed = attr_u64(a, "seed"), off = attr_u64(a, "offset");
    fill_indexed(out[0], UniformAt{seed, off});
  });
  register_cuda_kernel("randn", [](auto&, auto& out, auto& a) {
    uint64_t seed = attr_u64(a, "seed"), off = attr_u64(a, "offset");
    fill_indexed(out[0], NormalAt{seed, off});
  });
  register_cuda_kernel("randint", [](auto&, auto& out, auto& a) {
    uint64_t seed = attr_u64(a, "seed"), off = attr_u64(a, "offset");
    int64_t low = a.template get<int64_t>("low");
    uint64_t range = static_cast<uint64_t>(a.template get<int64_t>("high") - low);
    fill_indexed(out[0], RandintAt{seed, off, range, low});
  });
  register_cuda_kernel("as_strided_scatter", [](auto& in, auto& out, auto& a) {
    copy_into(out[0], in[0]);
    auto s = a.template get<std::vector<int64_t>>("sizes");
    auto st = a.template get<std::vector<int64_t>>("strides");
    Tensor window = Tensor::make(out[0].storage(), Shape(s.begin(), s.end()),
                                 Strides(st.begin(), st.end()), a.template get<int64_t>("offset"),
                                 out[0].dtype());
    copy_into(window, in[1]);
  });
  register_cuda_kernel("dropout", [](auto& in, auto& out, auto& a) {
    double p = a.template get<double>("p");
    uint64_t seed = attr_u64(a, "seed"), off = attr_u64(a, "offset");
    int64_t n = in[0].numel();
    if (n == 0) return;
    visit_cuda_floating(in[0].dtype(), "dropout", [&](auto tag) {
      using T = typename decltype(tag)::type;
      using V = opmath<T>;
      V scale = p < 1 ? static_cast<V>(1.0 / (1.0 - p)) : V(0);
      dropout_kernel<T><<<blocks_for((n + 3) / 4, kThreads), kThreads, 0, current_stream()>>>(
          static_cast<const T*>(in[0].raw_data()), static_cast<T*>(out[0].raw_data()), n,
          static_cast<float>(p), scale, seed, off,
          reinterpret_cast<uintptr_t>(in[0].raw_data()) % (4 * sizeof(T)) == 0 &&
              reinterpret_cast<uintptr_t>(out[0].raw_data()) % (4 * sizeof(T)) == 0);
    });
    DS_CUDA_LAUNCH_CHECK();
  });
  register_cuda_kernel("to_device", to_cuda);
  ops::Registry::get().register_kernel("to_device", DeviceType::cpu, to_cpu);
}

}  // namespace
}  // namespace deepseek::cuda

DS_REGISTER(deepseek::cuda::register_copy_kernels);
