// Matrix products on CUDA through cuBLASLt: matmul / mm / bmm / linear / addmm in f32 (TF32
// when float32_matmul_precision is "high"), f16, bf16 (f32 accumulation) and f64. Row-major
// tensors are handed to column-major cuBLASLt as their transposes (C^T = B^T A^T), so
// transposed views need no copy; linear's bias rides in the epilogue. Algorithms are chosen
// once per problem shape, large ones by timing cuBLASLt's top candidates, and cached.
#include <cublasLt.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <mutex>
#include <unordered_map>

#include "deepseek/ops/raw_ops.h"
#include "deepseek/backend/cuda/runtime.h"
#include "deepseek/core/accelerator.h"
#include "deepseek/core/parallel.h"
#include "deepseek/ops/ops.h"
#include "deepseek/ops/registry.h"

#define DS_CUBLAS_CHECK(expr)                                                            \
  do {                                                                                   \
    cublasStatus_t ds_st_ = (expr);                                                      \
    if (ds_st_ != CUBLAS_STATUS_SUCCESS)                                                 \
      DS_THROW("cuBLASLt error in ", #expr, ": ", cublasLtGetStatusString(ds_st_));      \
  } while (0)

namespace deepseek::cuda {
namespace {

constexpr size_t kWorkspace = 32u << 20;

struct DeviceState {
  cublasLtHandle_t handle = nullptr;
  void* workspace = nullptr;
};

DeviceState& state(int dev) {
  static DeviceState states[64];
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  DeviceState& s = states[dev];
  if (!s.handle) {
    DS_CUBLAS_CHECK(cublasLtCreate(&s.handle));
    DS_CUDA_CHECK(cudaMalloc(&s.workspace, kWorkspace));
  }
  return s;
}

// A matrix operand as cuBLASLt sees it: column-major storage of `rows x cols` with leading
// dimension ld, used transposed or not, and a batch stride.
struct Operand {
  const void* ptr;
  bool trans;
  int64_t rows, cols, ld, batch_stride;
};

// Row-major X[r, c] (strides sr, sc in elements) read as the column-major matrix X^T, which
// is what cuBLASLt multiplies. Returns false when neither stride is 1 (needs a copy).
bool as_transposed(const Tensor& x, int64_t r, int64_t c, int64_t sr, int64_t sc, Operand& op) {
  if (c == 1) sc = 1;
  if (r == 1) sr = std::max<int64_t>(c, 1);
  if (sc == 1 && sr >= std::max<int64_t>(c, 1)) {  // row-major: stored col-major as X^T [c, r]
    op = {x.raw_data(), false, c, r, sr, 0};
    return true;
  }
  if (sr == 1 && sc >= std::max<int64_t>(r, 1)) {  // column-major: stored as X [r, c], use op T
    op = {x.raw_data(), true, r, c, sc, 0};
    return true;
  }
  return false;
}

cudaDataType_t cuda_type(DType t) {
  switch (t) {
    case DType::f32: return CUDA_R_32F;
    case DType::f64: return CUDA_R_64F;
    case DType::f16: return CUDA_R_16F;
    case DType::bf16: return CUDA_R_16BF;
    default: DS_THROW("matmul on CUDA supports f32, f64, f16 and bf16, got ", dtype_name(t));
  }
}

struct PlanKey {
  int dev, dtype, compute, ta, tb, epilogue;
  int64_t m, n, k, lda, ldb, ldc, batch, sa, sb, sc;
  bool operator==(const PlanKey&) const = default;
};
struct PlanKeyHash {
  size_t operator()(const PlanKey& k) const {
    size_t h = 1469598103934665603ull;
    const unsigned char* p = reinterpret_cast<const unsigned char*>(&k);
    for (size_t i = 0; i < sizeof(k); ++i) h = (h ^ p[i]) * 1099511628211ull;
    return h;
  }
};

struct Desc {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  ~Desc() {
    if (op) cublasLtMatmulDescDestroy(op);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (c) cublasLtMatrixLayoutDestroy(c);
  }
};

void set_layout(cublasLtMatrixLayout_t& l, cudaDataType_t t, int64_t rows, int64_t cols, int64_t ld,
                int64_t batch, int64_t stride) {
  DS_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&l, t, rows, cols, ld));
  if (batch > 1) {
    int32_t b32 = static_cast<int32_t>(batch);
    DS_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &b32, sizeof(b32)));
    DS_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                                                     &stride, sizeof(stride)));
  }
}

// Algorithm choice. cuBLASLt's heuristic ranks its kernels without running them, and its
// first pick is not always the fastest (BERT's f32 step: +1.3% from timing 32 candidates).
// So, as cuDNN's benchmark mode, the first call of a large product times the heuristic's
// top candidates and keeps the fastest for that shape. Not in deterministic mode (the pick could differ between runs,
// and with it the rounding), nor while a CUDA graph is being captured, nor with
// DEEPSEEK_CUBLASLT_TUNE=0.
constexpr int kTuneCandidates = 32;
constexpr double kTuneMinFlops = 1e9;  // below, a product is over before timing pays off

bool tuning_allowed(int dev, double flops) {
  static const bool enabled = [] {
    const char* e = std::getenv("DEEPSEEK_CUBLASLT_TUNE");
    return !(e && std::string(e) == "0");
  }();
  if (!enabled || deterministic() || flops < kTuneMinFlops) return false;
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  cudaStreamIsCapturing(current_stream(dev), &capture);
  return capture == cudaStreamCaptureStatusNone;
}

// Index of the candidate with the shortest time (each run once to warm up, then timed twice).
template <typename Run>
int fastest(const cublasLtMatmulHeuristicResult_t* cands, int count, Run&& run, int dev) {
  cudaStream_t stream = current_stream(dev);
  cudaEvent_t start, stop;
  DS_CUDA_CHECK(cudaEventCreate(&start));
  DS_CUDA_CHECK(cudaEventCreate(&stop));
  int best = 0;
  float best_ms = 1e30f;
  for (int i = 0; i < count; ++i) {
    if (run(cands[i].algo) != CUBLAS_STATUS_SUCCESS) continue;
    cudaEventRecord(start, stream);
    bool ok = run(cands[i].algo) == CUBLAS_STATUS_SUCCESS && run(cands[i].algo) == CUBLAS_STATUS_SUCCESS;
    cudaEventRecord(stop, stream);
    DS_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    if (ok && ms < best_ms) best_ms = ms, best = i;
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return best;
}

// D[batch] (col-major n x m, ld n) = alpha * op(A) op(B) + beta * D (+ bias over n rows).
// A is the (n x k) operand, B the (k x m) one, both in cuBLASLt's column-major view.
void lt_matmul(DType dt, const Operand& A, const Operand& B, void* D, int64_t n, int64_t m,
               int64_t k, int64_t batch, int64_t d_stride, double alpha, double beta,
               const void* bias) {
  int dev = current_device();
  DeviceState& st = state(dev);
  cudaDataType_t t = cuda_type(dt);
  cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  if (dt == DType::f64) compute = CUBLAS_COMPUTE_64F;
  else if (dt == DType::f32 && float32_matmul_precision() != "highest") compute = CUBLAS_COMPUTE_32F_FAST_TF32;
  cudaDataType_t scale_t = dt == DType::f64 ? CUDA_R_64F : CUDA_R_32F;
  cublasLtEpilogue_t epi = bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;

  Desc d;
  DS_CUBLAS_CHECK(cublasLtMatmulDescCreate(&d.op, compute, scale_t));
  cublasOperation_t ta = A.trans ? CUBLAS_OP_T : CUBLAS_OP_N, tb = B.trans ? CUBLAS_OP_T : CUBLAS_OP_N;
  DS_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
  DS_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));
  if (bias) {
    DS_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)));
    DS_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
    DS_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &t, sizeof(t)));
  }
  set_layout(d.a, t, A.rows, A.cols, A.ld, batch, A.batch_stride);
  set_layout(d.b, t, B.rows, B.cols, B.ld, batch, B.batch_stride);
  set_layout(d.c, t, n, m, n, batch, d_stride);

  PlanKey key{dev, static_cast<int>(dt), static_cast<int>(compute), A.trans, B.trans, static_cast<int>(epi),
              m, n, k, A.ld, B.ld, n, batch, A.batch_stride, B.batch_stride, d_stride};
  static std::mutex mu;
  static std::unordered_map<PlanKey, cublasLtMatmulHeuristicResult_t, PlanKeyHash> plans;
  cublasLtMatmulHeuristicResult_t heur{};
  bool found = false;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = plans.find(key);
    if (it != plans.end()) {
      heur = it->second;
      found = true;
    }
  }
  float af = static_cast<float>(alpha), bf = static_cast<float>(beta);
  const void* pa = dt == DType::f64 ? static_cast<const void*>(&alpha) : &af;
  const void* pb = dt == DType::f64 ? static_cast<const void*>(&beta) : &bf;
  auto run = [&](const cublasLtMatmulAlgo_t& algo) {
    return cublasLtMatmul(st.handle, d.op, pa, A.ptr, d.a, B.ptr, d.b, pb, D, d.c, D, d.c, &algo, st.workspace,
                          kWorkspace, current_stream(dev));
  };
  if (!found) {
    cublasLtMatmulPreference_t pref;
    DS_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    size_t ws = kWorkspace;
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
    cublasLtMatmulHeuristicResult_t cands[kTuneCandidates];
    int returned = 0;
    cublasStatus_t s = cublasLtMatmulAlgoGetHeuristic(st.handle, d.op, d.a, d.b, d.c, d.c, pref,
                                                      kTuneCandidates, cands, &returned);
    cublasLtMatmulPreferenceDestroy(pref);
    DS_CHECK(s == CUBLAS_STATUS_SUCCESS && returned > 0, "cuBLASLt found no algorithm for a ", dtype_name(dt),
             " product of ", n, "x", k, " by ", k, "x", m, " (batch ", batch, ")");
    heur = cands[0];
    // beta != 0 reads D, which timing runs would change: those keep the heuristic's first pick.
    if (returned > 1 && beta == 0 && tuning_allowed(dev, 2.0 * n * m * k * batch)) heur = cands[fastest(cands, returned, run, dev)];
    std::lock_guard<std::mutex> lock(mu);
    plans.emplace(key, heur);
  }
  DS_CUBLAS_CHECK(run(heur.algo));
}

Tensor dense(const Tensor& t) {
  ops::NoInterposers raw;
  return t.contiguous();
}

// The batch dims of x (all but the last two) as one dim with one stride, if they have one.
bool flat_batch(const Tensor& x, int64_t& batch, int64_t& stride) {
  batch = 1;
  stride = 0;
  int64_t expect = -1;
  for (int64_t d = x.dim() - 3; d >= 0; --d) {
    int64_t s = x.sizes()[d];
    if (s == 1) continue;
    if (expect < 0) {
      stride = x.strides()[d];
    } else if (x.strides()[d] != expect) {
      return false;
    }
    expect = x.strides()[d] * s;
    batch *= s;
  }
  return true;
}

void product(Tensor a, Tensor b, const Tensor& out, double alpha, double beta, const Tensor* bias);

// cuBLASLt runs a tensor-core product whose K or N is not a multiple of 16 bytes' worth of elements on
// slow kernels: GPT-2's 50257-word head takes 13.3 ms where 50264 words take 1.8 ms (PyTorch
// measures the same). A large such product is computed on copies zero-padded to the next
// multiple (padded K adds zeros, padded N columns are dropped): a copy of the operands and
// the output instead of a kernel seven times slower.
constexpr double kPadMinFlops = 1e10;

Tensor padded_copy(const Tensor& x, int64_t rows, int64_t cols) {  // x (..., r, c) -> (..., rows, cols)
  Shape s = x.sizes();
  int64_t r = s[s.size() - 2], c = s.back();
  s[s.size() - 2] = rows;
  s.back() = cols;
  Tensor p = Tensor::empty(s, x.dtype(), x.device());
  if (cols > c) narrow(p, -1, c, cols - c).fill_(0.0);
  if (rows > r) narrow(p, -2, r, rows - r).fill_(0.0);
  Tensor body = narrow(narrow(p, -2, 0, r), -1, 0, c);
  copy_(body, x);
  return p;
}

bool product_padded(const Tensor& a, const Tensor& b, const Tensor& out, double alpha, double beta,
                    const Tensor* bias) {
  int64_t nd = out.dim();
  int64_t M = out.sizes()[nd - 2], N = out.sizes()[nd - 1], K = a.sizes()[a.dim() - 1];
  int64_t e = std::max<int64_t>(1, 16 / static_cast<int64_t>(itemsize(out.dtype())));
  if ((K % e == 0 && N % e == 0) || 2.0 * static_cast<double>(out.numel()) * static_cast<double>(K) < kPadMinFlops)
    return false;
  // True f32 (no TF32) runs on CUDA cores, whose kernels take unaligned operands at full speed:
  // BERT's 30522-word decoder products took 15.0 / 14.4 / 15.4 ms unpadded against 16.9 / 15.8
  // / 18.8 ms padded (plus the copies).
  if (out.dtype() == DType::f32 && float32_matmul_precision() == "highest") return false;
  ops::NoInterposers raw;
  int64_t Kp = (K + e - 1) / e * e, Np = (N + e - 1) / e * e;
  Tensor ap = Kp == K ? a : padded_copy(a, M, Kp);
  Tensor bp = padded_copy(b, Kp, Np);
  if (Np == N) {
    product(ap, bp, out, alpha, beta, bias);
    return true;
  }
  Shape os = out.sizes();
  os.back() = Np;
  Tensor wide = Tensor::empty(os, out.dtype(), out.device());
  Tensor body = narrow(wide, -1, 0, N);
  if (beta != 0) copy_(body, out);
  Tensor bias_p;
  if (bias) bias_p = padded_copy(reshape(*bias, {1, N}), 1, Np).reshape({Np});
  product(ap, bp, wide, alpha, beta, bias ? &bias_p : nullptr);
  Tensor o = out;
  copy_(o, body);
  return true;
}

// out[..., M, N] (contiguous) = alpha * a[..., M, K] @ b[..., K, N] + beta * out (+ bias[N]).
// a and b already broadcast to out's batch dims (possibly with stride 0).
void product(Tensor a, Tensor b, const Tensor& out, double alpha, double beta, const Tensor* bias) {
  if (out.numel() == 0) return;
  if (product_padded(a, b, out, alpha, beta, bias)) return;
  int64_t nd = out.dim();
  int64_t M = out.sizes()[nd - 2], N = out.sizes()[nd - 1], K = a.sizes()[a.dim() - 1];
  int64_t batch = out.numel() / (M * N);
  DType dt = out.dtype();
  cudaStream_t stream = current_stream(out.device().index);
  if (K == 0) {
    ops::NoInterposers raw;
    if (bias) {
      Tensor o = out;
      copy_(o, *bias);
    } else if (beta == 0) {
      DS_CUDA_CHECK(cudaMemsetAsync(out.raw_data(), 0, out.nbytes(), stream));
    } else if (beta != 1) {
      Tensor o = out;
      copy_(o, mul(out, beta));
    }
    return;
  }
  auto batch_of = [&](Tensor& x, int64_t& stride) {
    int64_t nb = 1;
    if (x.dim() == 2) {
      stride = 0;  // one matrix for every batch entry
      return;
    }
    if (!flat_batch(x, nb, stride) || (nb != batch && nb != 1)) {
      x = dense(x);
      flat_batch(x, nb, stride);
    }
    if (nb == 1) stride = 0;
  };
  int64_t sa = 0, sb = 0;
  batch_of(a, sa);
  batch_of(b, sb);
  Operand A, B;  // A: b^T (n x k), B: a^T (k x m) in column-major terms
  int64_t ar = a.dim(), br = b.dim();
  if (!as_transposed(b, K, N, b.strides()[br - 2], b.strides()[br - 1], A)) {
    b = dense(b);
    batch_of(b, sb);
    as_transposed(b, K, N, b.strides()[br - 2], b.strides()[br - 1], A);
  }
  if (!as_transposed(a, M, K, a.strides()[ar - 2], a.strides()[ar - 1], B)) {
    a = dense(a);
    batch_of(a, sa);
    as_transposed(a, M, K, a.strides()[ar - 2], a.strides()[ar - 1], B);
  }
  A.batch_stride = sb;
  B.batch_stride = sa;
  Tensor bias_c;
  if (bias) bias_c = dense(*bias);
  lt_matmul(dt, A, B, out.raw_data(), N, M, K, batch, M * N, alpha, beta, bias ? bias_c.raw_data() : nullptr);
}

// Broadcasts the batch dims of a and b to out's (views, no copies).
void broadcast_batch(Tensor& x, const Tensor& out) {
  int64_t nd = out.dim();
  Shape s(out.sizes().begin(), out.sizes().end() - 2);
  s.push_back(x.sizes()[x.dim() - 2]);
  s.push_back(x.sizes()[x.dim() - 1]);
  if (x.sizes() == s) return;
  if (x.dim() == 2 && nd > 2) return;  // handled as a batch stride of 0
  ops::NoInterposers raw;
  x = x.expand(s);
}

void matmul_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs&) {
  Tensor a = in[0], b = in[1];
  broadcast_batch(a, out[0]);
  broadcast_batch(b, out[0]);
  product(a, b, out[0], 1.0, 0.0, nullptr);
}

void linear_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs&) {
  const Tensor& x = in[0];
  const Tensor& w = in[1];
  int64_t K = x.sizes().back(), N = w.sizes()[0];
  int64_t M = out[0].numel() / std::max<int64_t>(N, 1);
  Tensor x2;
  {
    ops::NoInterposers raw;
    x2 = x.dim() == 2 ? x : (x.is_contiguous() ? x.reshape({M, K}) : dense(x).reshape({M, K}));
  }
  Tensor wt = Tensor::make(w.storage(), {K, N}, {w.strides()[1], w.strides()[0]}, w.offset(), w.dtype());
  Tensor o2 = Tensor::make(out[0].storage(), {M, N}, {N, 1}, out[0].offset(), out[0].dtype());
  product(x2, wt, o2, 1.0, 0.0, in.size() > 2 ? &in[2] : nullptr);
}

void addmm_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  double alpha = a.get<double>("alpha", 1.0), beta = a.get<double>("beta", 1.0);
  if (beta != 0) {
    ops::NoInterposers raw;
    Tensor o = out[0];
    copy_(o, in[0]);
  }
  product(in[1], in[2], out[0], alpha, beta, nullptr);
}

void register_matmul_kernels() {
  auto& r = ops::Registry::get();
  for (const char* n : {"matmul", "mm", "bmm"}) r.register_kernel(n, DeviceType::cuda, matmul_kernel);
  r.register_kernel("linear", DeviceType::cuda, linear_kernel);
  r.register_kernel("addmm", DeviceType::cuda, addmm_kernel);
}

}  // namespace
}  // namespace deepseek::cuda

DS_REGISTER(deepseek::cuda::register_matmul_kernels);
