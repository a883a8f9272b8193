// 2-D convolution kernels: forward, backward-data (also conv_transpose2d's forward) and
// backward-weights. f32 runs through oneDNN with format `any`: the primitive picks its blocked
// layout, activations are reordered in and out, weights are reordered once per (storage,
// version) and cached. bf16/f16 compute through f32 (no bf16 convolution on AVX2 in 2.6);
// f64 through im2col + OpenBLAS dgemm (a reference path for gradcheck, not the fast path).
// On AVX2+FMA CPUs, f32 3x3 convolutions with stride 1 and one group take Winograd's F(4x4, 3x3)
// instead (gemm/winograd_conv.h) in all three directions, NCHW or channels_last;
// DEEPSEEK_CPU_WINOGRAD=0 keeps them on oneDNN.
//
// Padding may be asymmetric (conv2d 'same' with an even kernel). Rows the windows never reach
// (when (H + pads - span) is not a multiple of the stride) are cut from the input window
// rather than given to oneDNN as negative padding.
#include <cblas.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "deepseek/backend/cpu/capability.h"
#include "deepseek/backend/cpu/gemm/winograd_conv.h"
#include "deepseek/backend/cpu/im2col.h"
#include "deepseek/backend/cpu/loops.h"
#include "deepseek/backend/cpu/onednn/onednn.h"
#include "deepseek/ops/registry.h"

namespace deepseek::cpu {
namespace {
namespace dn = onednn;
using dnnl::memory;

struct Geo {
  int64_t N, C, H, W, OC, KH, KW, OH, OW, G;
  int64_t s[2], d[2], pl[2], pr[2];  // pr: effective right padding (>= 0)
  int64_t Hw, Ww;                     // input extent the windows reach (<= H, W)
};

std::vector<int64_t> vec(const ops::Attrs& a, const char* k, std::vector<int64_t> def) {
  return a.get<std::vector<int64_t>>(k, def);
}

Geo geometry(const Shape& x, const Shape& w, const ops::Attrs& a) {
  Geo g{};
  g.N = x[0], g.C = x[1], g.H = x[2], g.W = x[3];
  g.OC = w[0], g.KH = w[2], g.KW = w[3];
  g.G = a.get<int64_t>("groups", 1);
  auto st = vec(a, "stride", {1, 1}), dl = vec(a, "dilation", {1, 1}), pd = vec(a, "padding", {0, 0});
  auto pe = vec(a, "padding_r", pd);
  int64_t in[2] = {g.H, g.W}, k[2] = {g.KH, g.KW}, out[2], win[2];
  for (int i = 0; i < 2; ++i) {
    g.s[i] = st[i], g.d[i] = dl[i], g.pl[i] = pd[i];
    out[i] = (in[i] + pd[i] + pe[i] - dl[i] * (k[i] - 1) - 1) / st[i] + 1;
    int64_t r = (out[i] - 1) * st[i] + dl[i] * (k[i] - 1) + 1 - in[i] - pd[i];
    g.pr[i] = std::max<int64_t>(r, 0);
    win[i] = in[i] + std::min<int64_t>(r, 0);
  }
  g.OH = out[0], g.OW = out[1], g.Hw = win[0], g.Ww = win[1];
  return g;
}

memory::dims dims(std::initializer_list<int64_t> v) { return memory::dims(v.begin(), v.end()); }

// Activation (N, C, H, W) window of t in t's own strides.
memory::desc act_md(const Tensor& t, int64_t h, int64_t w) {
  return dn::md_of(t, {t.sizes()[0], t.sizes()[1], h, w}, t.strides());
}
// Weights (OC, C/G, KH, KW) as oneDNN wants them: with a leading groups dim when G > 1.
memory::desc w_md(const Tensor& t, int64_t G) {
  if (G == 1) return dn::md_of(t);
  const auto &s = t.sizes(), &st = t.strides();
  return dn::md_of(t, {G, s[0] / G, s[1], s[2], s[3]}, {st[0] * (s[0] / G), st[0], st[1], st[2], st[3]});
}
memory::desc any_md(const memory::desc& md) {
  return memory::desc(md.dims(), md.data_type(), memory::format_tag::any);
}

struct ConvDescs {
  memory::dims strides, dil, pl, pr;
};
ConvDescs conv_descs(const Geo& g) {
  return {dims({g.s[0], g.s[1]}), dims({g.d[0] - 1, g.d[1] - 1}), dims({g.pl[0], g.pl[1]}),
          dims({g.pr[0], g.pr[1]})};
}

dnnl::primitive_attr user_scratch() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

dnnl::convolution_forward::primitive_desc fwd_pd(const memory::desc& src, const memory::desc& wt,
                                                 const memory::desc* bias, const memory::desc& dst,
                                                 const Geo& g) {
  auto c = conv_descs(g);
  auto alg = dnnl::algorithm::convolution_direct;
  auto pk = dnnl::prop_kind::forward_training;
  auto d = bias ? dnnl::convolution_forward::desc(pk, alg, any_md(src), any_md(wt), *bias, any_md(dst),
                                                  c.strides, c.dil, c.pl, c.pr)
                : dnnl::convolution_forward::desc(pk, alg, any_md(src), any_md(wt), any_md(dst), c.strides,
                                                  c.dil, c.pl, c.pr);
  return dnnl::convolution_forward::primitive_desc(d, user_scratch(), dn::engine());
}

dn::Key geo_key(const char* kind, const Geo& g) {
  dn::Key k;
  k << kind << std::vector<int64_t>{g.s[0], g.s[1], g.d[0], g.d[1], g.pl[0], g.pl[1], g.pr[0], g.pr[1], g.G};
  return k;
}

// Reads `user` in `want`'s layout into a memory (no copy when it already matches).
memory take(const memory::desc& user_md, const Tensor& t, const memory::desc& want, Tensor& hold) {
  return dn::reorder_to(dn::mem(user_md, t), want, hold);
}

// ---- f32 through oneDNN ----
struct FwdPrim {
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward prim;
};
struct BwdDataPrim {
  dnnl::convolution_backward_data::primitive_desc pd;
  dnnl::convolution_backward_data prim;
};
struct BwdWeightsPrim {
  dnnl::convolution_backward_weights::primitive_desc pd;
  dnnl::convolution_backward_weights prim;
};

// dst (or a window of it) receives `result` in its own layout.
void give(const memory& result, const memory::desc& user_md, Tensor& t) {
  memory user = dn::mem(user_md, t);
  if (result.get_desc() == user_md) return;  // computed in place
  dn::reorder_into(result, user);
}
memory place(const memory::desc& user_md, Tensor& t, const memory::desc& want, Tensor& hold) {
  if (want == user_md) return dn::mem(user_md, t);
  return dn::scratch(want, hold);
}

void zero(Tensor& t) {
  if (t.numel() > 0) std::memset(t.raw_data(), 0, t.nbytes());
}

// ---- f32 3x3 through Winograd ----
bool winograd_enabled() {
  static const bool on = [] {
    const char* e = std::getenv("DEEPSEEK_CPU_WINOGRAD");
    return std::string(cpu_capability()) == "avx2" && !(e && std::string(e) == "0");
  }();
  return on;
}

// The Winograd problem of this geometry, when it has one: 3x3, stride 1, dilation 1, one
// group, every input row and column reached; activations x and y (for the weight gradient, dy)
// dense NCHW or NHWC. The weights are made contiguous by the callers.
bool winograd_shape(const Geo& g, const Tensor& x, const Tensor& y, gemm::Conv3x3& c) {
  if (!winograd_enabled() || g.KH != 3 || g.KW != 3 || g.G != 1 || g.Hw != g.H || g.Ww != g.W) return false;
  for (int i = 0; i < 2; ++i)
    if (g.s[i] != 1 || g.d[i] != 1 || g.pl[i] > 2) return false;
  auto nhwc = [](const Tensor& t) { return !t.is_contiguous() && t.is_contiguous(MemoryFormat::channels_last); };
  auto dense = [&](const Tensor& t) { return t.is_contiguous() || nhwc(t); };
  if (!dense(x) || !dense(y)) return false;
  c = {g.N, g.C, g.H, g.W, g.OC, g.OH, g.OW, g.pl[0], g.pl[1], nhwc(x), nhwc(y)};
  return gemm::winograd_pays(c);
}

constexpr const char* kWinograd = "deepseek winograd f(4x4,3x3) avx2";

Tensor dense(const Tensor& t) { return t.is_contiguous() ? t : dn::dense_copy(t); }

Tensor workspace(int64_t floats) { return Tensor::empty({floats}, DType::f32); }

void fwd_f32(const Tensor& x, const Tensor& w, const Tensor* b, Tensor& y, const Geo& g) {
  gemm::Conv3x3 c;
  if (winograd_shape(g, x, y, c)) {
    Tensor wd = dense(w), bd = b ? dense(*b) : Tensor();
    Tensor ws = workspace(gemm::winograd_forward_workspace(c));
    dn::note_impl("conv_fwd", kWinograd);
    return gemm::winograd_forward(c, x.data<float>(), wd.data<float>(), b ? bd.data<float>() : nullptr,
                                  y.data<float>(), ws.data<float>());
  }
  memory::desc xm = act_md(x, g.Hw, g.Ww), wm = w_md(w, g.G), ym = dn::md_of(y), bm;
  if (b) bm = dn::md_of(*b);
  dn::Key k = geo_key("conv_fwd", g);
  k << xm << wm << ym << bm;
  auto p = dn::cached<FwdPrim>(k, [&] {
    auto pd = fwd_pd(xm, wm, b ? &bm : nullptr, ym, g);
    dn::note_impl("conv_fwd", pd);
    return std::make_shared<FwdPrim>(FwdPrim{pd, dnnl::convolution_forward(pd)});
  });
  Tensor h1, h2, h3;
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, take(xm, x, p->pd.src_desc(), h1)},
                                       {DNNL_ARG_WEIGHTS, dn::cached_weights(w, dn::mem(wm, w), p->pd.weights_desc(), h2)}};
  memory out = place(ym, y, p->pd.dst_desc(), h3);
  args[DNNL_ARG_DST] = out;
  if (b) args[DNNL_ARG_BIAS] = dn::mem(bm, *b);
  dn::execute(p->prim, p->pd, std::move(args));
  give(out, ym, y);
}

// dx (N, C, H, W) from dy and w.
void bwd_data_f32(const Tensor& dy, const Tensor& w, Tensor& dx, const Geo& g) {
  // The data gradient of a 3x3 stride-1 convolution is the convolution of dy with the weights
  // transposed (C <-> OC) and flipped, padded by 2 - pad (the Winograd forward reads them so).
  gemm::Conv3x3 c;
  if (winograd_shape(g, dx, dy, c)) {
    const gemm::Conv3x3 t{g.N, g.OC, g.OH, g.OW, g.C, g.H, g.W, 2 - g.pl[0], 2 - g.pl[1], c.y_nhwc, c.x_nhwc, true};
    Tensor wd = dense(w), ws = workspace(gemm::winograd_forward_workspace(t));
    dn::note_impl("conv_bwd_data", kWinograd);
    return gemm::winograd_forward(t, dy.data<float>(), wd.data<float>(), nullptr, dx.data<float>(),
                                  ws.data<float>());
  }
  if (g.Hw < g.H || g.Ww < g.W) zero(dx);  // rows no window reaches get no gradient
  memory::desc dxm = act_md(dx, g.Hw, g.Ww), wm = w_md(w, g.G), dym = dn::md_of(dy);
  dn::Key k = geo_key("conv_bwd_data", g);
  k << dxm << wm << dym;
  auto p = dn::cached<BwdDataPrim>(k, [&] {
    auto hint = fwd_pd(dxm, wm, nullptr, dym, g);
    auto c = conv_descs(g);
    dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, any_md(dxm), any_md(wm),
                                            any_md(dym), c.strides, c.dil, c.pl, c.pr);
    dnnl::convolution_backward_data::primitive_desc pd(d, user_scratch(), dn::engine(), hint);
    dn::note_impl("conv_bwd_data", pd);
    return std::make_shared<BwdDataPrim>(BwdDataPrim{pd, dnnl::convolution_backward_data(pd)});
  });
  Tensor h1, h2, h3;
  memory out = place(dxm, dx, p->pd.diff_src_desc(), h3);
  dn::execute(p->prim, p->pd,
              {{DNNL_ARG_DIFF_DST, take(dym, dy, p->pd.diff_dst_desc(), h1)},
               {DNNL_ARG_WEIGHTS, dn::cached_weights(w, dn::mem(wm, w), p->pd.weights_desc(), h2)},
               {DNNL_ARG_DIFF_SRC, out}});
  give(out, dxm, dx);
}

// dw (OC, C/G, KH, KW) from dy and x.
void bwd_weights_f32(const Tensor& dy, const Tensor& x, Tensor& dw, const Geo& g) {
  gemm::Conv3x3 c;
  if (winograd_shape(g, x, dy, c)) {
    Tensor ws = workspace(gemm::winograd_backward_weights_workspace(c));
    dn::note_impl("conv_bwd_weights", kWinograd);
    Tensor out = dw.is_contiguous() ? dw : Tensor::empty(dw.sizes(), DType::f32);
    gemm::winograd_backward_weights(c, dy.data<float>(), x.data<float>(), out.data<float>(), ws.data<float>());
    if (!out.is_same(dw)) dn::copy_into(dw, out);
    return;
  }
  memory::desc xm = act_md(x, g.Hw, g.Ww), dwm = w_md(dw, g.G), dym = dn::md_of(dy);
  dn::Key k = geo_key("conv_bwd_weights", g);
  k << xm << dwm << dym;
  auto p = dn::cached<BwdWeightsPrim>(k, [&] {
    auto hint = fwd_pd(xm, dwm, nullptr, dym, g);
    auto c = conv_descs(g);
    dnnl::convolution_backward_weights::desc d(dnnl::algorithm::convolution_direct, any_md(xm), any_md(dwm),
                                               any_md(dym), c.strides, c.dil, c.pl, c.pr);
    dnnl::convolution_backward_weights::primitive_desc pd(d, user_scratch(), dn::engine(), hint);
    dn::note_impl("conv_bwd_weights", pd);
    return std::make_shared<BwdWeightsPrim>(BwdWeightsPrim{pd, dnnl::convolution_backward_weights(pd)});
  });
  Tensor h1, h2, h3;
  memory out = place(dwm, dw, p->pd.diff_weights_desc(), h3);
  dn::execute(p->prim, p->pd,
              {{DNNL_ARG_SRC, take(xm, x, p->pd.src_desc(), h1)},
               {DNNL_ARG_DIFF_DST, take(dym, dy, p->pd.diff_dst_desc(), h2)},
               {DNNL_ARG_DIFF_WEIGHTS, out}});
  give(out, dwm, dw);
}

// ---- f64 through im2col + dgemm ----
Window2d window(const Geo& g) {
  Window2d w{g.C / g.G, g.H, g.W, g.KH, g.KW, g.OH, g.OW, g.s[0], g.s[1], g.pl[0], g.pl[1], g.d[0], g.d[1]};
  return w;
}

void fwd_f64(const Tensor& x_, const Tensor& w_, const Tensor* b, Tensor& y, const Geo& g) {
  Tensor x = dense(x_), w = dense(w_);
  const int64_t Cg = g.C / g.G, OCg = g.OC / g.G, KK = Cg * g.KH * g.KW, L = g.OH * g.OW;
  std::vector<double> cols(static_cast<size_t>(KK * L));
  Window2d win = window(g);
  const double* X = x.data<double>();
  const double* Wt = w.data<double>();
  double* Y = y.data<double>();
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t gi = 0; gi < g.G; ++gi) {
      im2col(X + (n * g.C + gi * Cg) * g.H * g.W, win, cols.data());
      double* out = Y + (n * g.OC + gi * OCg) * L;
      if (b) {
        Tensor bb = dense(*b);
        for (int64_t o = 0; o < OCg; ++o) std::fill(out + o * L, out + (o + 1) * L, bb.data<double>()[gi * OCg + o]);
      }
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, OCg, L, KK, 1.0, Wt + gi * OCg * KK, KK,
                  cols.data(), L, b ? 1.0 : 0.0, out, L);
    }
}

void bwd_data_f64(const Tensor& dy_, const Tensor& w_, Tensor& dx, const Geo& g) {
  Tensor dy = dense(dy_), w = dense(w_);
  const int64_t Cg = g.C / g.G, OCg = g.OC / g.G, KK = Cg * g.KH * g.KW, L = g.OH * g.OW;
  std::vector<double> cols(static_cast<size_t>(KK * L));
  Window2d win = window(g);
  zero(dx);
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t gi = 0; gi < g.G; ++gi) {
      cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, KK, L, OCg, 1.0, w.data<double>() + gi * OCg * KK, KK,
                  dy.data<double>() + (n * g.OC + gi * OCg) * L, L, 0.0, cols.data(), L);
      col2im(cols.data(), win, dx.data<double>() + (n * g.C + gi * Cg) * g.H * g.W);
    }
}

void bwd_weights_f64(const Tensor& dy_, const Tensor& x_, Tensor& dw, const Geo& g) {
  Tensor dy = dense(dy_), x = dense(x_);
  const int64_t Cg = g.C / g.G, OCg = g.OC / g.G, KK = Cg * g.KH * g.KW, L = g.OH * g.OW;
  std::vector<double> cols(static_cast<size_t>(KK * L));
  Window2d win = window(g);
  zero(dw);
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t gi = 0; gi < g.G; ++gi) {
      im2col(x.data<double>() + (n * g.C + gi * Cg) * g.H * g.W, win, cols.data());
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, OCg, KK, L, 1.0,
                  dy.data<double>() + (n * g.OC + gi * OCg) * L, L, cols.data(), L, 1.0,
                  dw.data<double>() + gi * OCg * KK, KK);
    }
}

// ---- dtype routing ----
bool half(DType t) { return t == DType::f16 || t == DType::bf16; }
Tensor f32(const Tensor& t) { return dn::dense_copy(t, DType::f32); }

// The f64 kernels write row-major memory: a channels_last output is computed into a row-major
// buffer and copied over (a copy, acceptable on the CPU for now; oneDNN takes any strides).
template <typename F>
void row_major_out(Tensor& y, F f) {
  if (y.is_contiguous()) return f(y);
  Tensor t = Tensor::empty(y.sizes(), y.dtype());
  f(t);
  dn::copy_into(y, t);
}

void run_fwd(const Tensor& x, const Tensor& w, const Tensor* b, Tensor& y, const Geo& g) {
  if (y.numel() == 0) return;
  switch (y.dtype()) {
    case DType::f32: return fwd_f32(x, w, b, y, g);
    case DType::f64: return row_major_out(y, [&](Tensor& o) { fwd_f64(x, w, b, o, g); });
    default: {
      DS_CHECK(half(y.dtype()), "no convolution kernel for ", dtype_name(y.dtype()));
      Tensor bf = b ? f32(*b) : Tensor();
      Tensor yf = Tensor::empty(y.sizes(), DType::f32);
      fwd_f32(f32(x), f32(w), b ? &bf : nullptr, yf, g);
      dn::copy_into(y, yf);
    }
  }
}

void run_bwd_data(const Tensor& dy, const Tensor& w, Tensor& dx, const Geo& g) {
  if (dx.numel() == 0) return;
  if (dy.numel() == 0) return zero(dx);
  switch (dx.dtype()) {
    case DType::f32: return bwd_data_f32(dy, w, dx, g);
    case DType::f64: return row_major_out(dx, [&](Tensor& o) { bwd_data_f64(dy, w, o, g); });
    default: {
      DS_CHECK(half(dx.dtype()), "no convolution kernel for ", dtype_name(dx.dtype()));
      Tensor f = Tensor::empty(dx.sizes(), DType::f32);
      bwd_data_f32(f32(dy), f32(w), f, g);
      dn::copy_into(dx, f);
    }
  }
}

void run_bwd_weights(const Tensor& dy, const Tensor& x, Tensor& dw, const Geo& g) {
  if (dw.numel() == 0) return;
  if (dy.numel() == 0) return zero(dw);
  switch (dw.dtype()) {
    case DType::f32: return bwd_weights_f32(dy, x, dw, g);
    case DType::f64: return row_major_out(dw, [&](Tensor& o) { bwd_weights_f64(dy, x, o, g); });
    default: {
      DS_CHECK(half(dw.dtype()), "no convolution kernel for ", dtype_name(dw.dtype()));
      Tensor f = Tensor::empty(dw.sizes(), DType::f32);
      bwd_weights_f32(f32(dy), f32(x), f, g);
      dn::copy_into(dw, f);
    }
  }
}

void conv2d_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  Geo g = geometry(in[0].sizes(), in[1].sizes(), a);
  run_fwd(in[0], in[1], in.size() > 2 ? &in[2] : nullptr, out[0], g);
}

// inputs: grad_out (N, OC, OH, OW), weight; attr input_size.
void conv2d_bwd_input_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  Geo g = geometry(a.get<std::vector<int64_t>>("input_size"), in[1].sizes(), a);
  run_bwd_data(in[0], in[1], out[0], g);
}

// inputs: grad_out, input x; attr weight_size.
void conv2d_bwd_weight_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  Geo g = geometry(in[1].sizes(), a.get<std::vector<int64_t>>("weight_size"), a);
  run_bwd_weights(in[0], in[1], out[0], g);
}

// conv_transpose2d(x, w[, b]) is the data gradient of the convolution whose input has the
// transposed output's shape; the bias is added after.
void conv_transpose2d_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  Tensor& y = out[0];
  ops::Attrs ca;
  ca.set("stride", a.get<std::vector<int64_t>>("stride"));
  ca.set("padding", a.get<std::vector<int64_t>>("padding"));
  ca.set("dilation", a.get<std::vector<int64_t>>("dilation"));
  ca.set("groups", a.get<int64_t>("groups", 1));
  Geo g = geometry(y.sizes(), in[1].sizes(), ca);
  run_bwd_data(in[0], in[1], y, g);
  if (in.size() > 2 && y.numel() > 0) {
    const Tensor& b = in[2];
    Tensor bv = Tensor::make(b.storage(), y.sizes(), {0, b.strides()[0], 0, 0}, b.offset(), b.dtype());
    visit_dtype(y.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_floating_point_v<opmath_t<T>>) {
        using A = opmath_t<T>;
        Tensor yy = y;
        elementwise<T, T, T>(yy, {&y, &bv}, [](T u, T v) { return T(static_cast<A>(u) + static_cast<A>(v)); });
      }
    });
  }
}

void install() {
  auto& r = ops::Registry::get();
  r.register_kernel("conv2d", DeviceType::cpu, conv2d_kernel);
  r.register_kernel("conv2d_backward_input", DeviceType::cpu, conv2d_bwd_input_kernel);
  r.register_kernel("conv2d_backward_weight", DeviceType::cpu, conv2d_bwd_weight_kernel);
  r.register_kernel("conv_transpose2d", DeviceType::cpu, conv_transpose2d_kernel);
}
DS_REGISTER(install);

}  // namespace
}  // namespace deepseek::cpu
