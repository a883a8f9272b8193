// Matrix products: matmul / mm / bmm (batched, broadcast batch dims), linear and addmm.
// f32 runs through oneDNN's matmul primitive with the operands' own strides (transposed views
// need no copy), large products through our AVX2 sgemm or OpenBLAS's (f32_gemm); bf16/f16
// compute through f32 (oneDNN 2.6 has bf16/f16 matmul only on AVX-512 machines); f64 through OpenBLAS dgemm,
// one call per batch matrix.
#include <cblas.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>

#include "deepseek/backend/cpu/capability.h"
#include "deepseek/backend/cpu/gemm/sgemm.h"
#include "deepseek/backend/cpu/loops.h"
#include "deepseek/backend/cpu/onednn/onednn.h"
#include "deepseek/ops/registry.h"

namespace deepseek::cpu {
namespace {
namespace dn = onednn;

// A view of t with leading size-1 dims added up to `nd`, and the strides of size-1 dims set as
// a contiguous tensor's would be (their value is free, and the BLAS layout checks want them
// consistent).
Tensor as_rank(const Tensor& t, int64_t nd) {
  Shape s(nd - t.dim(), 1);
  s.insert(s.end(), t.sizes().begin(), t.sizes().end());
  Strides st(nd - t.dim(), 0);
  st.insert(st.end(), t.strides().begin(), t.strides().end());
  int64_t acc = 1;
  for (int64_t d = nd - 1; d >= 0; --d) {
    if (s[d] == 1) st[d] = acc;
    acc *= std::max<int64_t>(s[d], 1);
    if (s[d] != 1) acc = std::max(acc, st[d] * s[d]);
  }
  return Tensor::make(t.storage(), s, st, t.offset(), t.dtype());
}

// The last two dims are row- or column-major with a valid leading dimension, and no batch dim
// is expanded (stride 0): what both oneDNN's gemm path and cblas read without a copy.
bool blas_layout(const Tensor& t) {
  int64_t nd = t.dim();
  int64_t r = t.sizes()[nd - 2], c = t.sizes()[nd - 1];
  int64_t sr = t.strides()[nd - 2], sc = t.strides()[nd - 1];
  bool ok = (sc == 1 && sr >= std::max<int64_t>(c, 1)) || (sr == 1 && sc >= std::max<int64_t>(r, 1));
  for (int64_t d = 0; d < nd - 2 && ok; ++d)
    if (t.sizes()[d] > 1 && t.strides()[d] == 0) ok = false;
  return ok;
}

Tensor blas_ready(const Tensor& t, int64_t nd) {
  Tensor v = as_rank(t, nd);
  return blas_layout(v) ? v : as_rank(dn::dense_copy(v), nd);
}

// Materializes broadcast batch dims (for implementations that do not broadcast).
Tensor broadcast_batch(const Tensor& t, const Shape& out) {
  Shape s = out;
  s[s.size() - 2] = t.sizes()[t.dim() - 2];
  s[s.size() - 1] = t.sizes()[t.dim() - 1];
  if (s == t.sizes()) return t;
  Strides st = t.strides();
  for (size_t d = 0; d + 2 < s.size(); ++d)
    if (t.sizes()[d] == 1) st[d] = 0;
  Tensor e = Tensor::make(t.storage(), s, st, t.offset(), t.dtype());
  return dn::dense_copy(e);
}

struct MatmulPrim {
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul prim;
  bool reference;  // oneDNN fell back to its reference code: use dense operands instead
};

// out = alpha * a @ b (+ bias) (+ beta * out when beta != 0). Operands have out's rank.
void gemm_f32(Tensor a, Tensor b, Tensor& out, double alpha, double beta, const Tensor* bias) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto a_md = dn::md_of(a), b_md = dn::md_of(b), o_md = dn::md_of(out);
    dnnl::memory::desc bias_md;
    if (bias) bias_md = dn::md_of(*bias);
    dn::Key k;
    k << "matmul" << a_md << b_md << o_md << bias_md << alpha << beta;
    std::shared_ptr<MatmulPrim> p;
    try {
      p = dn::cached<MatmulPrim>(k, [&] {
        dnnl::primitive_attr attr;
        attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
        if (alpha != 1) attr.set_output_scales(0, {static_cast<float>(alpha)});
        if (beta != 0) {
          dnnl::post_ops po;
          po.append_sum(static_cast<float>(beta));
          attr.set_post_ops(po);
        }
        auto d = bias ? dnnl::matmul::desc(a_md, b_md, bias_md, o_md) : dnnl::matmul::desc(a_md, b_md, o_md);
        dnnl::matmul::primitive_desc pd(d, attr, dn::engine());
        dn::note_impl("matmul", pd);
        bool ref = std::string(pd.impl_info_str()).find("ref") != std::string::npos;
        return std::make_shared<MatmulPrim>(MatmulPrim{pd, dnnl::matmul(pd), ref});
      });
    } catch (const dnnl::error&) {
      DS_CHECK(attempt == 0, "oneDNN could not build a matmul for these operands");
    }
    if (p && (!p->reference || attempt == 1)) {
      std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, dn::mem(a_md, a)},
                                                 {DNNL_ARG_WEIGHTS, dn::mem(b_md, b)},
                                                 {DNNL_ARG_DST, dn::mem(o_md, out)}};
      if (bias) args[DNNL_ARG_BIAS] = dn::mem(bias_md, *bias);
      dn::execute(p->prim, p->pd, std::move(args));
      return;
    }
    // Second try: dense operands with materialized batch broadcasting.
    a = broadcast_batch(dn::dense_copy(a), out.sizes());
    b = broadcast_batch(dn::dense_copy(b), out.sizes());
  }
}

// Calls f(offset in a, offset in b, offset in out) for each matrix of out's batch dims, with
// a's and b's size-1 batch dims broadcast. Operands have out's rank.
template <typename F>
void for_each_matrix(const Tensor& a, const Tensor& b, const Tensor& out, F&& f) {
  int64_t nd = out.dim(), batches = 1;
  for (int64_t d = 0; d < nd - 2; ++d) batches *= out.sizes()[d];
  std::vector<int64_t> idx(std::max<int64_t>(nd - 2, 0), 0);
  for (int64_t i = 0; i < batches; ++i) {
    int64_t oa = 0, ob = 0, oc = 0;
    for (int64_t d = 0; d < nd - 2; ++d) {
      if (a.sizes()[d] > 1) oa += idx[d] * a.strides()[d];
      if (b.sizes()[d] > 1) ob += idx[d] * b.strides()[d];
      oc += idx[d] * out.strides()[d];
    }
    f(oa, ob, oc);
    for (int64_t d = nd - 3; d >= 0; --d) {
      if (++idx[d] < out.sizes()[d]) break;
      idx[d] = 0;
    }
  }
}

// out = alpha * a @ b + beta * out through OpenBLAS, one call per batch matrix (f64 always;
// f32 for large products when asked, see f32_engine). Operands in a BLAS layout (blas_ready).
template <typename T>
void gemm_blas(const Tensor& a, const Tensor& b, Tensor& out, double alpha, double beta) {
  // OpenBLAS keeps its own thread pool: size it as ours.
  static thread_local int blas_threads = 0;
  if (blas_threads != num_threads()) {
    blas_threads = num_threads();
    openblas_set_num_threads(blas_threads);
  }
  int64_t nd = out.dim();
  int64_t M = out.sizes()[nd - 2], N = out.sizes()[nd - 1], K = a.sizes()[nd - 1];
  auto layout = [](const Tensor& t, int64_t& ld) {
    int64_t d = t.dim();
    if (t.strides()[d - 1] == 1 && t.strides()[d - 2] >= std::max<int64_t>(t.sizes()[d - 1], 1)) {
      ld = t.strides()[d - 2];
      return CblasNoTrans;
    }
    ld = t.strides()[d - 1];
    return CblasTrans;
  };
  int64_t lda, ldb;
  auto ta = layout(a, lda), tb = layout(b, ldb);
  const T* A = a.data<T>();
  const T* B = b.data<T>();
  T* C = out.data<T>();
  for_each_matrix(a, b, out, [&](int64_t oa, int64_t ob, int64_t oc) {
    if constexpr (std::is_same_v<T, double>)
      cblas_dgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A + oa, std::max<int64_t>(lda, 1), B + ob,
                  std::max<int64_t>(ldb, 1), beta, C + oc, std::max<int64_t>(N, 1));
    else
      cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, static_cast<float>(alpha), A + oa, std::max<int64_t>(lda, 1),
                  B + ob, std::max<int64_t>(ldb, 1), static_cast<float>(beta), C + oc, std::max<int64_t>(N, 1));
  });
}

// out = alpha * a @ b + beta * out through our AVX2 sgemm (gemm/sgemm.h), which reads any
// strides, one call per batch matrix. Operands have out's rank; out is contiguous.
void gemm_ours(const Tensor& a, const Tensor& b, Tensor& out, double alpha, double beta) {
  int64_t nd = out.dim();
  int64_t M = out.sizes()[nd - 2], N = out.sizes()[nd - 1], K = a.sizes()[nd - 1];
  const float* A = a.data<float>();
  const float* B = b.data<float>();
  float* C = out.data<float>();
  for_each_matrix(a, b, out, [&](int64_t oa, int64_t ob, int64_t oc) {
    gemm::sgemm(M, N, K, static_cast<float>(alpha), A + oa, a.strides()[nd - 2], a.strides()[nd - 1], B + ob,
                b.strides()[nd - 2], b.strides()[nd - 1], static_cast<float>(beta), C + oc, N);
  });
}

// Which gemm an f32 product of M x K x N takes. Products large in every dimension go to our
// sgemm (gemm/sgemm.h) on AVX2+FMA CPUs, where oneDNN 2.6's gemm sits at 63-71% of an FMA
// loop's peak on the 2-core bench machine and ours at 70-74% (docs/architecture.md). oneDNN
// keeps the rest: it is faster on narrow products (128x3136x128: 175 against 80 GFLOP/s,
// where our packing is not amortized) and fuses the bias. DEEPSEEK_CPU_SGEMM=onednn|openblas
// sends the large products to that one instead: OpenBLAS holds up better than oneDNN under
// CPU contention (oneDNN's OpenMP barriers stall: 4096x1024x1024 at load 2.6 ran at 53.7
// against 67.5 GFLOP/s).
enum class Gemm { onednn, openblas, ours };

Gemm f32_gemm(int64_t M, int64_t N, int64_t K) {
  static const Gemm large = [] {
    const char* e = std::getenv("DEEPSEEK_CPU_SGEMM");
    std::string v = e ? e : "";
    if (v == "openblas") return Gemm::openblas;
    if (v == "onednn" || std::string(cpu_capability()) != "avx2") return Gemm::onednn;
    return Gemm::ours;
  }();
  bool is_large = std::min({M, N, K}) >= 256 && M * N * K >= (int64_t{1} << 25);
  return is_large ? large : Gemm::onednn;
}

// Fills out with `v` broadcast to its shape (bias prefill for the sum/beta paths).
void fill_broadcast(Tensor& out, const Tensor& v) {
  Tensor e = as_rank(v, out.dim());
  Strides st = e.strides();
  for (int64_t d = 0; d < out.dim(); ++d)
    if (e.sizes()[d] == 1 && out.sizes()[d] != 1) st[d] = 0;
  Tensor b = Tensor::make(e.storage(), out.sizes(), st, e.offset(), e.dtype());
  dn::copy_into(out, b);
}

void zero(Tensor& out) {
  if (out.numel() > 0) std::memset(out.raw_data(), 0, out.nbytes());
}

// out (contiguous, allocated by the dispatcher) = alpha * a @ b + [bias | beta * bias_fill].
// bias (linear): a vector over the last dim; fill (addmm): a tensor broadcast to out first.
void product(const Tensor& a_in, const Tensor& b_in, Tensor& out, double alpha, const Tensor* bias,
             const Tensor* fill, double beta) {
  if (out.numel() == 0) return;
  int64_t nd = out.dim();
  int64_t K = a_in.sizes()[a_in.dim() - 1];
  if (fill && beta != 0) fill_broadcast(out, *fill);
  else beta = 0;
  if (K == 0) {  // an empty sum: only the bias terms remain
    if (bias) {
      fill_broadcast(out, *bias);
    } else if (beta == 0) {
      zero(out);
    } else if (beta != 1) {
      Tensor t = dn::dense_copy(out, DType::f64);
      double* p = t.data<double>();
      for (int64_t i = 0; i < t.numel(); ++i) p[i] *= beta;
      dn::copy_into(out, t);
    }
    return;
  }
  DType dt = out.dtype();
  if (dt == DType::f64) {
    Tensor a = blas_ready(a_in, nd), b = blas_ready(b_in, nd);
    if (bias) {
      fill_broadcast(out, *bias);
      beta = 1;
    }
    gemm_blas<double>(a, b, out, alpha, beta);
    return;
  }
  if (dt == DType::f32) {
    Gemm engine = f32_gemm(out.sizes()[nd - 2], out.sizes()[nd - 1], K);
    if (engine != Gemm::onednn) {
      if (bias) {
        fill_broadcast(out, *bias);
        beta = 1;
      }
      dn::note_impl("matmul", engine == Gemm::ours ? "deepseek sgemm (avx2 6x16)" : "openblas sgemm");
      if (engine == Gemm::ours) gemm_ours(as_rank(a_in, nd), as_rank(b_in, nd), out, alpha, beta);
      else gemm_blas<float>(blas_ready(a_in, nd), blas_ready(b_in, nd), out, alpha, beta);
      return;
    }
    Tensor a = blas_ready(a_in, nd), b = blas_ready(b_in, nd);
    Tensor bv;
    if (bias) bv = as_rank(bias->is_contiguous() ? *bias : dn::dense_copy(*bias), nd);
    gemm_f32(a, b, out, alpha, beta, bias ? &bv : nullptr);
    return;
  }
  DS_CHECK(dt == DType::f16 || dt == DType::bf16, "expects floating-point operands, got ",
           dtype_name(dt));
  // Half precision: compute in f32, round once at the end.
  Tensor a = as_rank(dn::dense_copy(a_in, DType::f32), nd);
  Tensor b = as_rank(dn::dense_copy(b_in, DType::f32), nd);
  Tensor o = beta != 0 ? dn::dense_copy(out, DType::f32) : Tensor::empty(out.sizes(), DType::f32);
  Tensor bv;
  if (bias) bv = as_rank(dn::dense_copy(*bias, DType::f32), nd);
  gemm_f32(a, b, o, alpha, beta, bias ? &bv : nullptr);
  dn::copy_into(out, o);
}

void matmul_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs&) {
  product(in[0], in[1], out[0], 1.0, nullptr, nullptr, 0.0);
}

// linear: x [*, K] @ weight[N, K]^T + bias[N], computed as one 2-D product when x's leading
// dims flatten without a copy.
void linear_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs&) {
  const Tensor& x = in[0];
  const Tensor& w = in[1];
  int64_t K = x.sizes().back(), N = w.sizes()[0];
  int64_t M = x.numel() / std::max<int64_t>(K, 1);
  if (K == 0) M = out[0].numel() / std::max<int64_t>(N, 1);
  // Can the leading dims of x be read as one dim with a single stride?
  Tensor xs = x;
  bool flat = true;
  int64_t row_stride = x.dim() >= 2 ? x.strides()[x.dim() - 2] : K;
  {
    int64_t expect = row_stride;
    for (int64_t d = x.dim() - 2; d >= 0; --d) {
      if (x.sizes()[d] == 1) continue;
      if (x.strides()[d] != expect) flat = false;
      expect *= x.sizes()[d];
    }
  }
  if (!flat) {
    xs = dn::dense_copy(x);
    row_stride = K;
  }
  if (x.dim() == 1) row_stride = K;
  Tensor x2 = Tensor::make(xs.storage(), {M, K}, {M == 1 ? std::max<int64_t>(K, 1) : row_stride, xs.strides().back()},
                           xs.offset(), xs.dtype());
  Tensor wt = Tensor::make(w.storage(), {K, N}, {w.strides()[1], w.strides()[0]}, w.offset(), w.dtype());
  Tensor o2 = Tensor::make(out[0].storage(), {M, N}, {N, 1}, out[0].offset(), out[0].dtype());
  const Tensor* bias = in.size() > 2 ? &in[2] : nullptr;
  product(x2, wt, o2, 1.0, bias, nullptr, 0.0);
}

void addmm_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  double alpha = a.get<double>("alpha", 1.0), beta = a.get<double>("beta", 1.0);
  product(in[1], in[2], out[0], alpha, nullptr, &in[0], beta);
}

void install() {
  auto& r = ops::Registry::get();
  for (const char* n : {"matmul", "mm", "bmm"}) r.register_kernel(n, DeviceType::cpu, matmul_kernel);
  r.register_kernel("linear", DeviceType::cpu, linear_kernel);
  r.register_kernel("addmm", DeviceType::cpu, addmm_kernel);
}
DS_REGISTER(install);

}  // namespace
}  // namespace deepseek::cpu
