#include "deepseek/backend/cuda/conv_graph.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "deepseek/backend/cuda/runtime.h"
#include "deepseek/core/accelerator.h"
#include "deepseek/core/error.h"
#include "deepseek/core/parallel.h"

// The graph's and plan's handle attributes are deprecated in recent cuDNN 9 releases (a plan
// can be built for a device rather than a handle) but remain the way that works on 9.0 too.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace deepseek::cuda {
namespace {

// One backend descriptor, destroyed with its owner.
class Desc {
 public:
  explicit Desc(cudnnBackendDescriptorType_t t) { check(cudnnBackendCreateDescriptor(t, &d_), "create"); }
  ~Desc() {
    if (d_) cudnnBackendDestroyDescriptor(d_);
  }
  Desc(const Desc&) = delete;
  Desc& operator=(const Desc&) = delete;
  cudnnBackendDescriptor_t get() const { return d_; }
  Desc& set(cudnnBackendAttributeName_t n, cudnnBackendAttributeType_t t, int64_t count, const void* v) {
    check(cudnnBackendSetAttribute(d_, n, t, count, v), "set attribute");
    return *this;
  }
  Desc& set(cudnnBackendAttributeName_t n, const Desc& v) {
    cudnnBackendDescriptor_t raw = v.get();
    return set(n, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &raw);
  }
  bool try_finalize() { return cudnnBackendFinalize(d_) == CUDNN_STATUS_SUCCESS; }
  void finalize() { check(cudnnBackendFinalize(d_), "finalize"); }

 private:
  static void check(cudnnStatus_t s, const char* what) {
    if (s != CUDNN_STATUS_SUCCESS) DS_THROW("cuDNN graph API: ", what, ": ", cudnnGetErrorString(s));
  }
  cudnnBackendDescriptor_t d_ = nullptr;
};

// Largest power of two (up to 16) dividing the address: the alignment a plan may assume.
int64_t alignment_of(const Tensor& t) {
  auto p = reinterpret_cast<uintptr_t>(t.raw_data());
  int64_t a = 16;
  while (a > 1 && p % static_cast<uintptr_t>(a) != 0) a /= 2;
  return a;
}

constexpr int64_t kUidX = 1, kUidW = 2, kUidY = 3;

std::unique_ptr<Desc> tensor_desc(const Tensor& t, int64_t uid, bool nhwc) {
  const Shape& s = t.sizes();
  int64_t dims[4] = {s[0], s[1], s[2], s[3]}, st[4];
  if (nhwc) {  // canonical strides of the layout (size-1 dims included)
    st[1] = 1, st[3] = s[1], st[2] = s[1] * s[3], st[0] = s[1] * s[2] * s[3];
  } else {
    st[3] = 1, st[2] = s[3], st[1] = s[2] * s[3], st[0] = s[1] * s[2] * s[3];
  }
  cudnnDataType_t dt = cudnn_data_type(t.dtype());
  int64_t align = alignment_of(t);
  auto d = std::make_unique<Desc>(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
  d->set(CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dt)
      .set(CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims)
      .set(CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, st)
      .set(CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid)
      .set(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align)
      .finalize();
  return d;
}

// Whether the engine of a configuration may be used: deterministic mode refuses
// nondeterministic engines, f32 without TF32 refuses tensor-core ones, and engines that
// compile at run time (seconds on first use) are skipped.
bool engine_allowed(cudnnBackendDescriptor_t cfg, DType dt) {
  Desc engine(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
  cudnnBackendDescriptor_t raw = engine.get();
  int64_t n = 0;
  if (cudnnBackendGetAttribute(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &n, &raw) !=
      CUDNN_STATUS_SUCCESS)
    return false;
  cudnnBackendNumericalNote_t notes[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
  int64_t nn = 0;
  cudnnBackendGetAttribute(raw, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                           CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &nn, notes);
  for (int64_t i = 0; i < nn; ++i) {
    if (notes[i] == CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC && deterministic()) return false;
    if (dt == DType::f32 && !conv_allow_tf32() &&
        (notes[i] == CUDNN_NUMERICAL_NOTE_TENSOR_CORE || notes[i] == CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS))
      return false;
  }
  cudnnBackendBehaviorNote_t behavior[CUDNN_BEHAVIOR_NOTE_TYPE_COUNT];
  int64_t nb = 0;
  cudnnBackendGetAttribute(raw, CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE, CUDNN_TYPE_BEHAVIOR_NOTE,
                           CUDNN_BEHAVIOR_NOTE_TYPE_COUNT, &nb, behavior);
  for (int64_t i = 0; i < nb; ++i)
    if (behavior[i] == CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION) return false;
  return true;
}

struct Plan {
  std::shared_ptr<Desc> plan;  // null: no engine takes the case
  int64_t workspace = 0;
};

Tensor scratch(int64_t bytes, Device dev) { return Tensor::empty({std::max<int64_t>(bytes, 1)}, DType::u8, dev); }

void execute(cudnnHandle_t h, const Plan& p, const Tensor& x, const Tensor& w, const Tensor& y, void* ws) {
  int64_t uids[3] = {kUidX, kUidW, kUidY};
  void* ptrs[3] = {const_cast<void*>(x.raw_data()), const_cast<void*>(w.raw_data()), const_cast<void*>(y.raw_data())};
  Desc pack(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
  pack.set(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 3, uids)
      .set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 3, ptrs)
      .set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &ws)
      .finalize();
  cudnnStatus_t s = cudnnBackendExecute(h, p.plan->get(), pack.get());
  if (s != CUDNN_STATUS_SUCCESS) DS_THROW("cuDNN graph API: execute: ", cudnnGetErrorString(s));
}

constexpr int kRanked = 8, kFallback = 4;  // usable plans benchmarked, by source
constexpr int64_t kMaxWorkspace = int64_t{1} << 30;

// Builds the operation graph, asks the heuristics, and benchmarks the usable plans.
Plan find_plan(ConvKind kind, cudnnHandle_t h, const Tensor& x, const Tensor& w, const Tensor& y, bool nhwc,
               const ConvGeometry& g) {
  auto xd = tensor_desc(x, kUidX, nhwc), wd = tensor_desc(w, kUidW, nhwc), yd = tensor_desc(y, kUidY, nhwc);
  const bool dbl = x.dtype() == DType::f64;
  cudnnDataType_t comp = dbl ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
  cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  int64_t dims = 2;
  Desc conv(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR);
  conv.set(CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &comp)
      .set(CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode)
      .set(CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &dims)
      .set(CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, g.dilation)
      .set(CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, g.stride)
      .set(CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, g.pre_pad)
      .set(CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, g.post_pad)
      .finalize();
  float af = 1.f, bf = 0.f;
  double ad = 1.0, bd = 0.0;
  const void* alpha = dbl ? static_cast<const void*>(&ad) : &af;
  const void* beta = dbl ? static_cast<const void*>(&bd) : &bf;
  cudnnBackendAttributeType_t st = dbl ? CUDNN_TYPE_DOUBLE : CUDNN_TYPE_FLOAT;
  std::unique_ptr<Desc> op;
  switch (kind) {
    case ConvKind::forward:
      op = std::make_unique<Desc>(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR);
      op->set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, *xd)
          .set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, *wd)
          .set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, *yd)
          .set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, conv)
          .set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, st, 1, alpha)
          .set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, st, 1, beta);
      break;
    case ConvKind::backward_data:
      op = std::make_unique<Desc>(CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR);
      op->set(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX, *xd)
          .set(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W, *wd)
          .set(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY, *yd)
          .set(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC, conv)
          .set(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA, st, 1, alpha)
          .set(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA, st, 1, beta);
      break;
    case ConvKind::backward_filter:
      op = std::make_unique<Desc>(CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR);
      op->set(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X, *xd)
          .set(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW, *wd)
          .set(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY, *yd)
          .set(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC, conv)
          .set(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA, st, 1, alpha)
          .set(CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA, st, 1, beta);
      break;
  }
  if (!op->try_finalize()) return {};
  Desc graph(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
  cudnnBackendDescriptor_t op_raw = op->get();
  graph.set(CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &op_raw)
      .set(CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);
  if (!graph.try_finalize()) return {};
  // Engine configurations: the heuristics' ranking (mode A), then cuDNN's fallback list, which
  // holds engines the ranking leaves out (as PyTorch's benchmark mode does).
  std::vector<std::unique_ptr<Desc>> cfgs;
  std::vector<cudnnBackendDescriptor_t> raw;
  std::vector<int> from_fallback;
  for (cudnnBackendHeurMode_t hm : {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK}) {
    Desc heur(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
    heur.set(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, graph).set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &hm);
    if (!heur.try_finalize()) continue;
    int64_t count = 0;
    cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count,
                             nullptr);
    count = std::min<int64_t>(count, 32);
    std::vector<std::unique_ptr<Desc>> mine;
    std::vector<cudnnBackendDescriptor_t> mine_raw;
    for (int64_t i = 0; i < count; ++i) {
      mine.push_back(std::make_unique<Desc>(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR));
      mine_raw.push_back(mine.back()->get());
    }
    int64_t got = 0;
    if (count == 0 || cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                               count, &got, mine_raw.data()) != CUDNN_STATUS_SUCCESS)
      continue;
    for (int64_t i = 0; i < got; ++i) {
      cfgs.push_back(std::move(mine[i]));
      raw.push_back(mine_raw[i]);
      from_fallback.push_back(hm == CUDNN_HEUR_MODE_FALLBACK);
    }
  }
  const int64_t got = static_cast<int64_t>(raw.size());
  if (got == 0) return {};

  // Usable plans in the heuristics' order: up to kRanked of the ranking, kFallback more.
  std::vector<Plan> plans;
  int taken[2] = {0, 0};
  for (int64_t i = 0; i < got; ++i) {
    const int f = from_fallback[i];
    if (taken[f] >= (f ? kFallback : kRanked) || !engine_allowed(raw[i], x.dtype())) continue;
    auto plan = std::make_shared<Desc>(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
    plan->set(CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &h)
        .set(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &raw[i]);
    if (!plan->try_finalize()) continue;
    int64_t ws = 0, n = 0;
    cudnnBackendGetAttribute(plan->get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &n, &ws);
    if (ws > kMaxWorkspace) continue;
    plans.push_back({plan, ws});
    ++taken[f];
  }
  if (plans.empty()) return {};
  if (plans.size() == 1) return plans[0];
  // Benchmark: one warm-up and the best of three runs each (the output is overwritten).
  int64_t most = 0;
  for (auto& p : plans) most = std::max(most, p.workspace);
  Tensor ws = scratch(most, y.device());
  cudaStream_t stream = current_stream(y.device().index);
  cudaEvent_t e0, e1;
  DS_CUDA_CHECK(cudaEventCreate(&e0));
  DS_CUDA_CHECK(cudaEventCreate(&e1));
  float best_ms = 1e30f;
  Plan best;
  for (auto& p : plans) {
    try {
      execute(h, p, x, w, y, ws.raw_data());
    } catch (const Error&) {
      continue;  // an engine that fails at run time is not a candidate
    }
    float t = 1e30f;
    for (int r = 0; r < 3; ++r) {
      DS_CUDA_CHECK(cudaEventRecord(e0, stream));
      execute(h, p, x, w, y, ws.raw_data());
      DS_CUDA_CHECK(cudaEventRecord(e1, stream));
      DS_CUDA_CHECK(cudaEventSynchronize(e1));
      float ms = 0;
      DS_CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
      t = std::min(t, ms);
    }
    if (t < best_ms) best_ms = t, best = p;
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  return best;
}

std::mutex g_mu;
std::unordered_map<std::string, Plan> g_plans;

}  // namespace

cudnnDataType_t cudnn_data_type(DType t) {
  switch (t) {
    case DType::f32: return CUDNN_DATA_FLOAT;
    case DType::f64: return CUDNN_DATA_DOUBLE;
    case DType::f16: return CUDNN_DATA_HALF;
    case DType::bf16: return CUDNN_DATA_BFLOAT16;
    default: DS_THROW("convolution on CUDA supports f32, f64, f16 and bf16, got ", dtype_name(t));
  }
}

bool conv_graph(ConvKind kind, cudnnHandle_t h, const Tensor& x, const Tensor& w, const Tensor& y, bool nhwc,
                const ConvGeometry& g, const std::string& key) {
  std::string k = key + "|a" + std::to_string(alignment_of(x)) + std::to_string(alignment_of(w)) +
                  std::to_string(alignment_of(y)) + (nhwc ? "n" : "c");
  Plan p = cached(g_plans, g_mu, k, [&] {
    try {
      return find_plan(kind, h, x, w, y, nhwc, g);
    } catch (const Error&) {
      return Plan{};  // the legacy API takes it
    }
  });
  if (!p.plan) return false;
  Tensor ws = scratch(p.workspace, y.device());
  execute(h, p, x, w, y, ws.raw_data());
  return true;
}

}  // namespace deepseek::cuda
