// Convolutions on CUDA through cuDNN: conv2d forward, backward data, backward filter, and
// conv_transpose2d (a backward-data call plus the bias). Each runs through cuDNN's graph API
// (conv_graph.h: engines ranked by heuristics, benchmarked once per shape) and, for cases no
// engine there takes (or DEEPSEEK_CUDNN_LEGACY=1), through the legacy API, whose algorithms
// are found once per shape by benchmarking (cudnnFind*). Both keep to deterministic engines in
// deterministic mode and cache their choice. Asymmetric padding (padding 'same' with even kernels) pads the input explicitly.
#include <cudnn.h>

#include <cstdlib>
#include <mutex>
#include <unordered_map>

#include "deepseek/ops/raw_ops.h"
#include "deepseek/backend/cuda/conv_graph.h"
#include "deepseek/backend/cuda/runtime.h"
#include "deepseek/core/accelerator.h"
#include "deepseek/core/parallel.h"
#include "deepseek/ops/ops.h"
#include "deepseek/ops/registry.h"

#define DS_CUDNN_CHECK(expr)                                                          \
  do {                                                                                \
    cudnnStatus_t ds_st_ = (expr);                                                    \
    if (ds_st_ != CUDNN_STATUS_SUCCESS)                                               \
      DS_THROW("cuDNN error in ", #expr, ": ", cudnnGetErrorString(ds_st_));          \
  } while (0)

namespace deepseek::cuda {
namespace {

using Ints = std::vector<int64_t>;

cudnnHandle_t handle() {
  static cudnnHandle_t handles[64] = {};
  static std::mutex mu;
  int dev = current_device();
  std::lock_guard<std::mutex> lock(mu);
  if (!handles[dev]) DS_CUDNN_CHECK(cudnnCreate(&handles[dev]));
  DS_CUDNN_CHECK(cudnnSetStream(handles[dev], current_stream(dev)));
  return handles[dev];
}


// One layout for a whole convolution, as PyTorch: NHWC when the output is channels_last (the
// op's layout rule makes it so when the input or the weight is), else NCHW. Operands in the
// other layout are copied (none are on a model converted with to(channels_last)).
bool nhwc_output(const Tensor& y, const Tensor& a, const Tensor& b) {
  if (!y.is_contiguous(MemoryFormat::channels_last)) return false;
  return !y.is_contiguous() || suggest_memory_format(a) == MemoryFormat::channels_last ||
         suggest_memory_format(b) == MemoryFormat::channels_last;
}

Tensor dense4(const Tensor& t, bool nhwc) {
  MemoryFormat f = nhwc ? MemoryFormat::channels_last : MemoryFormat::contiguous;
  if (t.is_contiguous(f)) return t;
  ops::NoInterposers raw;
  return contiguous(t, f);
}

// The filter's layout flag: NHWC when its memory is (a non-row-major weight, which dense4 made
// channels_last) or when it may be read either way (1x1 kernels) and the activations are NHWC.
bool nhwc_filter(const Tensor& w, const Tensor& a, const Tensor& b) {
  return !w.is_contiguous() || !a.is_contiguous() || !b.is_contiguous();
}

struct TensorDesc {
  cudnnTensorDescriptor_t d = nullptr;
  explicit TensorDesc(const Tensor& t) {
    DS_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d));
    int dims[4], strides[4];
    for (int i = 0; i < 4; ++i) {
      dims[i] = static_cast<int>(t.sizes()[i]);
      strides[i] = static_cast<int>(t.strides()[i]);
    }
    DS_CUDNN_CHECK(cudnnSetTensorNdDescriptor(d, cudnn_data_type(t.dtype()), 4, dims, strides));
  }
  ~TensorDesc() { cudnnDestroyTensorDescriptor(d); }
};

struct FilterDesc {
  cudnnFilterDescriptor_t d = nullptr;
  FilterDesc(const Tensor& w, bool nhwc) {
    DS_CUDNN_CHECK(cudnnCreateFilterDescriptor(&d));
    DS_CUDNN_CHECK(cudnnSetFilter4dDescriptor(d, cudnn_data_type(w.dtype()), nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW,
                                              static_cast<int>(w.sizes()[0]), static_cast<int>(w.sizes()[1]),
                                              static_cast<int>(w.sizes()[2]), static_cast<int>(w.sizes()[3])));
  }
  ~FilterDesc() { cudnnDestroyFilterDescriptor(d); }
};

struct ConvArgs {
  Ints stride, padding, padding_r, dilation;
  int64_t groups;
};

ConvArgs read_args(const ops::Attrs& a) {
  ConvArgs c;
  c.stride = a.get<Ints>("stride", {1, 1});
  c.padding = a.get<Ints>("padding", {0, 0});
  c.padding_r = a.get<Ints>("padding_r", c.padding);
  c.dilation = a.get<Ints>("dilation", {1, 1});
  c.groups = a.get<int64_t>("groups", 1);
  return c;
}

struct ConvDesc {
  cudnnConvolutionDescriptor_t d = nullptr;
  ConvDesc(const ConvArgs& c, DType t) {
    DS_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&d));
    DS_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(
        d, static_cast<int>(c.padding[0]), static_cast<int>(c.padding[1]), static_cast<int>(c.stride[0]),
        static_cast<int>(c.stride[1]), static_cast<int>(c.dilation[0]), static_cast<int>(c.dilation[1]),
        CUDNN_CROSS_CORRELATION, t == DType::f64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT));
    DS_CUDNN_CHECK(cudnnSetConvolutionGroupCount(d, static_cast<int>(c.groups)));
    cudnnMathType_t math = CUDNN_TENSOR_OP_MATH;
    if (t == DType::f32) math = conv_allow_tf32() ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
    if (t == DType::f64) math = CUDNN_DEFAULT_MATH;
    DS_CUDNN_CHECK(cudnnSetConvolutionMathType(d, math));
  }
  ~ConvDesc() { cudnnDestroyConvolutionDescriptor(d); }
};

// Scratch memory for cuDNN from the stream-ordered pool.
Tensor workspace(size_t bytes, Device dev) {
  return Tensor::empty({static_cast<int64_t>(std::max<size_t>(bytes, 1))}, DType::u8, dev);
}

// Algorithm cache key: kind, shapes, strides, dtype, conv args, math mode, determinism.
std::string key_of(int kind, const Tensor& x, const Tensor& w, const Tensor& y, const ConvArgs& c) {
  std::string k = std::to_string(kind) + "|" + std::to_string(current_device()) + "|" +
                  std::to_string(static_cast<int>(x.dtype())) + "|" + std::to_string(conv_allow_tf32()) +
                  std::to_string(deterministic());
  for (const Tensor* t : {&x, &w, &y}) {
    for (auto s : t->sizes()) k += "," + std::to_string(s);
    k += ";";
    for (auto s : t->strides()) k += "," + std::to_string(s);
    k += "|";
  }
  for (const Ints* v : {&c.stride, &c.padding, &c.dilation})
    for (auto s : *v) k += "," + std::to_string(s);
  return k + "g" + std::to_string(c.groups);
}

template <typename Perf>
Perf pick(const Perf* perfs, int n, const char* what) {
  for (int i = 0; i < n; ++i) {
    if (perfs[i].status != CUDNN_STATUS_SUCCESS) continue;
    if (deterministic() && perfs[i].determinism != CUDNN_DETERMINISTIC) continue;
    return perfs[i];
  }
  DS_THROW("cuDNN found no usable ", what, " algorithm", deterministic() ? " that is deterministic" : "");
}

std::mutex g_cache_mu;
std::unordered_map<std::string, cudnnConvolutionFwdAlgoPerf_t> g_fwd;
std::unordered_map<std::string, cudnnConvolutionBwdDataAlgoPerf_t> g_bwd_data;
std::unordered_map<std::string, cudnnConvolutionBwdFilterAlgoPerf_t> g_bwd_filter;

constexpr size_t kMaxWorkspace = size_t{1} << 30;
constexpr int kAlgos = 8;

// Alpha = 1 and beta = 0 in the scaling type cuDNN expects for the data type.
struct Scaling {
  float f1 = 1.f, f0 = 0.f;
  double d1 = 1.0, d0 = 0.0;
  bool dbl;
  explicit Scaling(DType t) : dbl(t == DType::f64) {}
  const void* one() const { return dbl ? static_cast<const void*>(&d1) : &f1; }
  const void* zero() const { return dbl ? static_cast<const void*>(&d0) : &f0; }
};

// Looks the algorithm up in `cache` (finding it by benchmark the first time), sets the math
// type the search chose (cuDNN answers BAD_PARAM otherwise) and runs it with its workspace.
template <typename Perf, typename Find, typename Run>
void run_cached(std::unordered_map<std::string, Perf>& cache, const std::string& key, const ConvDesc& cd,
                Device dev, const char* what, Find find, Run run) {
  Perf perf = cached(cache, g_cache_mu, key, [&] {
    Tensor ws = workspace(kMaxWorkspace, dev);
    Perf perfs[kAlgos];
    int n = 0;
    find(ws.raw_data(), perfs, &n);
    return pick(perfs, n, what);
  });
  DS_CUDNN_CHECK(cudnnSetConvolutionMathType(cd.d, perf.mathType));
  Tensor ws = workspace(perf.memory, dev);
  run(perf, ws.raw_data());
}

// The graph API first (see the file comment). The three tensors are dense in one layout:
// NHWC if any of them is not row-major.
bool by_graph(ConvKind kind, cudnnHandle_t h, const Tensor& x, const Tensor& w, const Tensor& y, const ConvArgs& c,
              const std::string& key) {
  static const bool legacy = std::getenv("DEEPSEEK_CUDNN_LEGACY") != nullptr;
  if (legacy) return false;
  ConvGeometry g;
  for (int i = 0; i < 2; ++i) {
    g.stride[i] = c.stride[i];
    g.pre_pad[i] = c.padding[i];
    g.post_pad[i] = c.padding_r[i];
    g.dilation[i] = c.dilation[i];
  }
  bool nhwc = !x.is_contiguous() || !w.is_contiguous() || !y.is_contiguous();
  return conv_graph(kind, h, x, w, y, nhwc, g, key);
}

// y = conv(x, w): x, w dense; y written (any dense layout cuDNN accepts).
void forward(const Tensor& x, const Tensor& w, const Tensor& y, const ConvArgs& c) {
  cudnnHandle_t h = handle();
  if (by_graph(ConvKind::forward, h, x, w, y, c, key_of(0, x, w, y, c))) return;
  TensorDesc xd(x), yd(y);
  FilterDesc wd(w, nhwc_filter(w, x, y));
  ConvDesc cd(c, x.dtype());
  Scaling sc(x.dtype());
  run_cached(
      g_fwd, key_of(0, x, w, y, c), cd, x.device(), "convolution forward",
      [&](void* ws, cudnnConvolutionFwdAlgoPerf_t* perfs, int* n) {
        DS_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(h, xd.d, x.raw_data(), wd.d, w.raw_data(), cd.d, yd.d,
                                                              y.raw_data(), kAlgos, n, perfs, ws, kMaxWorkspace));
      },
      [&](const cudnnConvolutionFwdAlgoPerf_t& perf, void* ws) {
        DS_CUDNN_CHECK(cudnnConvolutionForward(h, sc.one(), xd.d, x.raw_data(), wd.d, w.raw_data(), cd.d, perf.algo,
                                               ws, perf.memory, sc.zero(), yd.d, y.raw_data()));
      });
}

// dx = conv^T(dy, w).
void backward_data(const Tensor& dy, const Tensor& w, const Tensor& dx, const ConvArgs& c) {
  cudnnHandle_t h = handle();
  if (by_graph(ConvKind::backward_data, h, dx, w, dy, c, key_of(1, dx, w, dy, c))) return;
  TensorDesc dyd(dy), dxd(dx);
  FilterDesc wd(w, nhwc_filter(w, dx, dy));
  ConvDesc cd(c, dy.dtype());
  Scaling sc(dy.dtype());
  run_cached(
      g_bwd_data, key_of(1, dx, w, dy, c), cd, dy.device(), "convolution backward-data",
      [&](void* ws, cudnnConvolutionBwdDataAlgoPerf_t* perfs, int* n) {
        DS_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(h, wd.d, w.raw_data(), dyd.d, dy.raw_data(), cd.d,
                                                                   dxd.d, dx.raw_data(), kAlgos, n, perfs, ws,
                                                                   kMaxWorkspace));
      },
      [&](const cudnnConvolutionBwdDataAlgoPerf_t& perf, void* ws) {
        DS_CUDNN_CHECK(cudnnConvolutionBackwardData(h, sc.one(), wd.d, w.raw_data(), dyd.d, dy.raw_data(), cd.d,
                                                    perf.algo, ws, perf.memory, sc.zero(), dxd.d, dx.raw_data()));
      });
}

// dw = correlation of x with dy.
void backward_filter(const Tensor& dy, const Tensor& x, const Tensor& dw, const ConvArgs& c) {
  cudnnHandle_t h = handle();
  if (by_graph(ConvKind::backward_filter, h, x, dw, dy, c, key_of(2, x, dw, dy, c))) return;
  TensorDesc dyd(dy), xd(x);
  FilterDesc wd(dw, nhwc_filter(dw, x, dy));
  ConvDesc cd(c, dy.dtype());
  Scaling sc(dy.dtype());
  run_cached(
      g_bwd_filter, key_of(2, x, dw, dy, c), cd, dy.device(), "convolution backward-filter",
      [&](void* ws, cudnnConvolutionBwdFilterAlgoPerf_t* perfs, int* n) {
        DS_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(h, xd.d, x.raw_data(), dyd.d, dy.raw_data(),
                                                                     cd.d, wd.d, dw.raw_data(), kAlgos, n, perfs, ws,
                                                                     kMaxWorkspace));
      },
      [&](const cudnnConvolutionBwdFilterAlgoPerf_t& perf, void* ws) {
        DS_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, sc.one(), xd.d, x.raw_data(), dyd.d, dy.raw_data(), cd.d,
                                                      perf.algo, ws, perf.memory, sc.zero(), wd.d, dw.raw_data()));
      });
}

bool symmetric(const ConvArgs& c) { return c.padding == c.padding_r; }

// Asymmetric padding: pad the input explicitly (left = padding, right = padding_r) and run
// the convolution unpadded.
Tensor pad_input(const Tensor& x, const ConvArgs& c) {
  ops::NoInterposers raw;
  return pad(x, {c.padding[1], c.padding_r[1], c.padding[0], c.padding_r[0]});
}
ConvArgs unpadded(ConvArgs c) {
  c.padding = c.padding_r = {0, 0};
  return c;
}

void add_bias(const Tensor& y, const Tensor& bias) {
  ops::NoInterposers raw;
  Tensor b = bias.reshape({1, bias.numel(), 1, 1}).contiguous();
  cudnnHandle_t h = handle();
  TensorDesc bd(b), yd(y);
  Scaling sc(y.dtype());
  DS_CUDNN_CHECK(cudnnAddTensor(h, sc.one(), bd.d, b.raw_data(), sc.one(), yd.d, y.raw_data()));
}

void conv2d_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  ConvArgs c = read_args(a);
  if (out[0].numel() == 0) return;
  bool nhwc = nhwc_output(out[0], in[0], in[1]);
  Tensor x = in[0], w = dense4(in[1], nhwc);
  if (!symmetric(c)) {
    x = pad_input(x, c);
    c = unpadded(c);
  }
  forward(dense4(x, nhwc), w, out[0], c);
  if (in.size() > 2) add_bias(out[0], in[2]);
}

void conv2d_backward_input_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  ConvArgs c = read_args(a);
  if (out[0].numel() == 0) return;
  bool nhwc = nhwc_output(out[0], in[0], in[1]);
  Tensor dy = dense4(in[0], nhwc), w = dense4(in[1], nhwc);
  if (symmetric(c)) {
    backward_data(dy, w, out[0], c);
    return;
  }
  // Gradient of the padded input, then the interior.
  const Shape& xs = out[0].sizes();
  Tensor dxp = Tensor::empty({xs[0], xs[1], xs[2] + c.padding[0] + c.padding_r[0], xs[3] + c.padding[1] + c.padding_r[1]},
                             out[0].dtype(), out[0].device(), nhwc ? MemoryFormat::channels_last : MemoryFormat::contiguous);
  backward_data(dy, w, dxp, unpadded(c));
  ops::NoInterposers raw;
  Tensor o = out[0];
  copy_(o, dxp.slice(2, c.padding[0], c.padding[0] + xs[2]).slice(3, c.padding[1], c.padding[1] + xs[3]));
}

void conv2d_backward_weight_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  ConvArgs c = read_args(a);
  if (out[0].numel() == 0) return;
  bool nhwc = nhwc_output(out[0], in[0], in[1]);
  Tensor dy = dense4(in[0], nhwc), x = in[1];
  if (dy.numel() == 0 || x.numel() == 0) {
    DS_CUDA_CHECK(cudaMemsetAsync(out[0].raw_data(), 0, out[0].nbytes(), current_stream()));
    return;
  }
  if (!symmetric(c)) {
    x = pad_input(x, c);
    c = unpadded(c);
  }
  backward_filter(dy, dense4(x, nhwc), out[0], c);
}

// conv_transpose2d(x, w[Cin, Cout/g, kh, kw]) is the backward-data of the convolution whose
// filter is w, applied to x; output_padding only enlarges the output (already sized by infer).
void conv_transpose2d_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  ConvArgs c = read_args(a);
  if (out[0].numel() == 0) return;
  bool nhwc = nhwc_output(out[0], in[0], in[1]);
  Tensor x = dense4(in[0], nhwc), w = dense4(in[1], nhwc);
  backward_data(x, w, out[0], c);
  if (in.size() > 2) add_bias(out[0], in[2]);
}

void register_conv_kernels() {
  auto& r = ops::Registry::get();
  r.register_kernel("conv2d", DeviceType::cuda, conv2d_kernel);
  r.register_kernel("conv2d_backward_input", DeviceType::cuda, conv2d_backward_input_kernel);
  r.register_kernel("conv2d_backward_weight", DeviceType::cuda, conv2d_backward_weight_kernel);
  r.register_kernel("conv_transpose2d", DeviceType::cuda, conv_transpose2d_kernel);
}

}  // namespace
}  // namespace deepseek::cuda

DS_REGISTER(deepseek::cuda::register_conv_kernels);
