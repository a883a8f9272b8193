// scaled_dot_product_attention as a composite of public ops (matmul, softmax, where, dropout):
// the reference path, with autograd and tracing for free. softmax(q k^T * scale + mask) v,
// with masks as PyTorch: a bool mask is true where attention is allowed, a float mask is added,
// is_causal keeps key j <= query i (top-left aligned). A fused (flash-style) kernel can
// replace this later behind the same function.
#include <cmath>
#include <limits>

#include "deepseek/ops/defs/common.h"

namespace deepseek {
namespace {

const char* kOp = "scaled_dot_product_attention";

void check_input(const Tensor& t, const char* what) {
  DS_CHECK(t.defined(), "[", kOp, "] ", what, " is an undefined tensor");
  DS_CHECK(is_floating(t.dtype()), "[", kOp, "] ", what, " must be a floating-point tensor, got ",
           dtype_name(t.dtype()));
  DS_CHECK(t.dim() >= 2, "[", kOp, "] ", what, " must be at least 2-D (..., L, E), got shape ",
           to_string(t.sizes()));
}

}  // namespace

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& attn_mask, double dropout_p, bool is_causal,
                                    std::optional<double> scale) {
  check_input(q, "query");
  check_input(k, "key");
  check_input(v, "value");
  DS_CHECK(q.dtype() == k.dtype() && q.dtype() == v.dtype(), "[", kOp,
           "] query, key and value must have one dtype, got ", dtype_name(q.dtype()), ", ",
           dtype_name(k.dtype()), " and ", dtype_name(v.dtype()));
  int64_t L = q.size(-2), S = k.size(-2), E = q.size(-1);
  DS_CHECK(k.size(-1) == E, "[", kOp, "] query and key must have the same embedding size, got ", E,
           " and ", k.size(-1));
  DS_CHECK(v.size(-2) == S, "[", kOp, "] key and value must have the same sequence length, got ", S,
           " and ", v.size(-2));
  DS_CHECK(dropout_p >= 0 && dropout_p <= 1, "[", kOp, "] dropout_p must be in [0, 1], got ", dropout_p);
  DS_CHECK(!scale || std::isfinite(*scale), "[", kOp, "] scale must be finite");
  DS_CHECK(!(is_causal && attn_mask.defined()), "[", kOp,
           "] give either attn_mask or is_causal=true, not both");
  if (attn_mask.defined()) {
    DS_CHECK(attn_mask.dtype() == DType::b8 || is_floating(attn_mask.dtype()), "[", kOp,
             "] attn_mask must be bool (true = attend) or floating (added), got ",
             dtype_name(attn_mask.dtype()));
    bool ok = attn_mask.dim() >= 1;
    for (int64_t i = 1; ok && i <= std::min<int64_t>(attn_mask.dim(), 2); ++i) {
      int64_t m = attn_mask.size(-i), want = i == 1 ? S : L;
      ok = m == 1 || m == want;
    }
    DS_CHECK(ok, "[", kOp, "] attn_mask of shape ", to_string(attn_mask.sizes()),
             " does not broadcast to (..., ", L, ", ", S, ")");
  }
  double s = scale ? *scale : 1.0 / std::sqrt(static_cast<double>(E));
  const double inf = std::numeric_limits<double>::infinity();

  Tensor attn = mul(matmul(q, transpose(k, -2, -1)), s);
  if (is_causal) {
    Tensor rows = view(arange(L, {DType::i64, q.device()}), {L, 1});
    Tensor cols = view(arange(S, {DType::i64, q.device()}), {1, S});
    attn = where(ge(rows, cols), attn, -inf);
  } else if (attn_mask.defined()) {
    attn = attn_mask.dtype() == DType::b8 ? where(attn_mask, attn, -inf) : add(attn, attn_mask);
  }
  attn = softmax(attn, -1);
  if (dropout_p > 0) attn = dropout(attn, dropout_p, true);
  return matmul(attn, v);
}

}  // namespace deepseek
