#include "deepseek/nn/attention.h"

#include <cmath>
#include <limits>

#include "deepseek/core/error.h"
#include "deepseek/nn/init.h"

namespace deepseek::nn {

MultiheadAttention::MultiheadAttention(int64_t e, int64_t h, MultiheadAttentionOptions o,
                                       TensorOptions to)
    : Module("MultiheadAttention"),
      embed_dim(e),
      num_heads(h),
      head_dim(h > 0 ? e / h : 0),
      kdim(o.kdim.value_or(e)),
      vdim(o.vdim.value_or(e)),
      options(o) {
  DS_CHECK(e > 0 && h > 0 && e % h == 0, "[MultiheadAttention] embed_dim (", e,
           ") must be divisible by num_heads (", h, ")");
  DS_CHECK(o.dropout >= 0.0 && o.dropout <= 1.0, "[MultiheadAttention] dropout must be in [0, 1]");
  if (kdim == e && vdim == e) {
    in_proj_weight = empty({3 * e, e}, to);
    bind_parameter("in_proj_weight", in_proj_weight);
  } else {
    q_proj_weight = empty({e, e}, to);
    k_proj_weight = empty({e, kdim}, to);
    v_proj_weight = empty({e, vdim}, to);
    bind_parameter("q_proj_weight", q_proj_weight);
    bind_parameter("k_proj_weight", k_proj_weight);
    bind_parameter("v_proj_weight", v_proj_weight);
  }
  if (o.bias) {
    in_proj_bias = empty({3 * e}, to);
    bind_parameter("in_proj_bias", in_proj_bias);
  }
  out_proj = register_module("out_proj", std::make_shared<Linear>(e, e, o.bias, to));
  if (o.add_bias_kv) {
    bias_k = empty({1, 1, e}, to);
    bias_v = empty({1, 1, e}, to);
    bind_parameter("bias_k", bias_k);
    bind_parameter("bias_v", bias_v);
  }
  reset_parameters();
}

void MultiheadAttention::reset_parameters() {
  if (in_proj_weight.defined()) {
    init::xavier_uniform_(in_proj_weight);
  } else {
    init::xavier_uniform_(q_proj_weight);
    init::xavier_uniform_(k_proj_weight);
    init::xavier_uniform_(v_proj_weight);
  }
  if (in_proj_bias.defined()) {
    init::zeros_(in_proj_bias);
    init::zeros_(out_proj->bias);
  }
  if (bias_k.defined()) {
    init::xavier_normal_(bias_k);
    init::xavier_normal_(bias_v);
  }
}

namespace {
// Boolean masks (true = masked) become additive float masks; float masks pass through.
Tensor canonical_mask(const Tensor& m, DType dt, const char* what) {
  if (!m.defined()) return m;
  if (m.dtype() == DType::b8)
    return masked_fill(zeros(m.sizes(), {dt, m.device()}), m,
                       -std::numeric_limits<double>::infinity());
  DS_CHECK(is_floating(m.dtype()), "[MultiheadAttention] ", what,
           " must be bool or floating point, got ", dtype_name(m.dtype()));
  return m.dtype() == dt ? m : cast(m, dt);
}
}  // namespace

// Works batch-first, (N, L, E), whatever the layout of the call (sequence-first inputs are
// transposed views), with heads as (N, H, L, hd) views: the attention op reads heads sliced
// from the projections in place and returns its output laid out (N, L, E), ready for the
// output projection, so a batch-first self-attention makes no layout copies.
std::pair<Tensor, Tensor> MultiheadAttention::forward(const Tensor& query_in, const Tensor& key_in,
                                                      const Tensor& value_in,
                                                      const AttentionArgs& args) {
  const char* op = "[MultiheadAttention]";
  DS_CHECK(query_in.dim() == 3 && key_in.dim() == 3 && value_in.dim() == 3, op,
           " query, key and value must be 3-D, got ", to_string(query_in.sizes()), ", ",
           to_string(key_in.sizes()), ", ", to_string(value_in.sizes()));
  Tensor query = options.batch_first ? query_in : transpose(query_in, 0, 1);
  Tensor key = options.batch_first ? key_in : transpose(key_in, 0, 1);
  Tensor value = options.batch_first ? value_in : transpose(value_in, 0, 1);
  int64_t N = query.size(0), L = query.size(1), E = embed_dim, H = num_heads, hd = head_dim;
  DS_CHECK(query.size(2) == E, op, " query must have embed_dim ", E, " features, got shape ",
           to_string(query_in.sizes()));
  DS_CHECK(key.size(2) == kdim && value.size(2) == vdim && key.size(0) == N && value.size(0) == N &&
               key.size(1) == value.size(1),
           op, " key/value shapes ", to_string(key_in.sizes()), " and ",
           to_string(value_in.sizes()), " do not fit query ", to_string(query_in.sizes()));
  DType dt = query.dtype();
  Tensor kpm = canonical_mask(args.key_padding_mask, dt, "key_padding_mask");
  Tensor mask = canonical_mask(args.attn_mask, dt, "attn_mask");
  // A causal flag with nothing to combine it with goes to the attention op as a flag (which
  // takes the fused kernel where there is one); otherwise it becomes an additive mask.
  bool causal_flag = false;
  if (!mask.defined() && args.is_causal) {
    if (!args.need_weights && !kpm.defined() && !bias_k.defined() && !options.add_zero_attn) {
      causal_flag = true;
    } else {
      int64_t S0 = key.size(1);
      mask = triu(full({L, S0}, -std::numeric_limits<double>::infinity(), {dt, query.device()}), 1);
    }
  }

  // Input projections, then heads: (N, len, E) -> (N, H, len, hd) views. Self-attention takes
  // one product for q, k and v with the weight's rows ordered (head, q|k|v, head_dim), split by
  // one unbind (a copy, whose gradient is one stack).
  auto heads = [&](const Tensor& t) { return transpose(reshape(t, {N, t.size(1), H, hd}), 1, 2); };
  Tensor q, k, v;
  bool self_attention = query_in.impl_ptr() == key_in.impl_ptr() && key_in.impl_ptr() == value_in.impl_ptr();
  if (self_attention && in_proj_weight.defined() && !bias_k.defined()) {
    auto by_head = [&](const Tensor& t) {  // (3·E, ...) rows (3, H, hd) -> (H, 3, hd)
      Shape s{3, H, hd};
      Shape rest(t.sizes().begin() + 1, t.sizes().end());
      s.insert(s.end(), rest.begin(), rest.end());
      std::vector<int64_t> perm{1, 0, 2};
      for (size_t i = 0; i < rest.size(); ++i) perm.push_back(static_cast<int64_t>(3 + i));
      return reshape(permute(reshape(t, s), perm), t.sizes());
    };
    Tensor qkv = linear(query, by_head(in_proj_weight), in_proj_bias.defined() ? by_head(in_proj_bias) : Tensor());
    // Each part (N, H, L, hd), head-major: the attention's (N·H, L, hd) batches are views of
    // it, so the f32 composite path makes no copies of q, k and v (the flash kernels read
    // any head and row strides).
    auto parts = unbind(permute(reshape(qkv, {N, L, H, 3, hd}), {3, 0, 2, 1, 4}), 0);
    q = parts[0];
    k = parts[1];
    v = parts[2];
  } else {
    Tensor bq, bk, bv;
    if (in_proj_bias.defined()) {
      auto b = chunk(in_proj_bias, 3);
      bq = b[0], bk = b[1], bv = b[2];
    }
    Tensor wq = q_proj_weight, wk = k_proj_weight, wv = v_proj_weight;
    if (in_proj_weight.defined()) {
      auto w = chunk(in_proj_weight, 3);
      wq = w[0], wk = w[1], wv = w[2];
    }
    Tensor kp = linear(key, wk, bk), vp = linear(value, wv, bv);
    if (bias_k.defined()) {  // one more key and value, at the end of every sequence
      kp = cat({kp, expand(bias_k, {N, 1, E})}, 1);
      vp = cat({vp, expand(bias_v, {N, 1, E})}, 1);
    }
    q = heads(linear(query, wq, bq));
    k = heads(kp);
    v = heads(vp);
  }
  int64_t S = key.size(1);

  if (mask.defined()) {
    if (mask.dim() == 2) {
      DS_CHECK(mask.size(0) == L && mask.size(1) == S, op, " 2-D attn_mask must be (", L, ", ", S, "), got ",
               to_string(mask.sizes()));
      mask = reshape(mask, {1, 1, L, S});
    } else {
      DS_CHECK(mask.dim() == 3 && mask.size(0) == N * H && mask.size(1) == L && mask.size(2) == S, op,
               " 3-D attn_mask must be (", N * H, ", ", L, ", ", S, "), got ", to_string(mask.sizes()));
      mask = reshape(mask, {N, H, L, S});
    }
  }
  // Checked before bias_k / the zero key add their columns.
  DS_CHECK(!kpm.defined() || (kpm.dim() == 2 && kpm.size(0) == N && kpm.size(1) == S), op,
           " key_padding_mask must be (", N, ", ", S, "), got ", to_string(kpm.sizes()));
  if (bias_k.defined()) {
    if (mask.defined()) mask = pad(mask, {0, 1});
    if (kpm.defined()) kpm = pad(kpm, {0, 1});
    ++S;
  }
  if (options.add_zero_attn) {
    Tensor z = zeros({N, H, 1, hd}, {k.dtype(), k.device()});
    k = cat({k, z}, 2);
    v = cat({v, z}, 2);
    if (mask.defined()) mask = pad(mask, {0, 1});
    if (kpm.defined()) kpm = pad(kpm, {0, 1});
    ++S;
  }
  if (kpm.defined()) {
    Tensor m = reshape(kpm, {N, 1, 1, S});
    mask = mask.defined() ? add(mask, m) : m;
  }
  double p = is_training() ? options.dropout : 0.0;

  Tensor out, weights;  // out: (N, H, L, hd)
  if (args.need_weights) {
    Tensor scores = matmul(mul(q, std::sqrt(1.0 / double(hd))), transpose(k, 2, 3));
    if (mask.defined()) scores = add(scores, mask);
    weights = softmax(scores, -1);
    if (p > 0.0) weights = dropout(weights, p, true);
    out = matmul(weights, v);
  } else {
    // Memory-efficient attention: the (L, S) weights are never kept for the whole batch.
    out = scaled_dot_product_attention(q, k, v, mask, p, causal_flag);
  }
  out = linear(reshape(transpose(out, 1, 2), {N, L, E}), out_proj->weight, out_proj->bias);
  if (!options.batch_first) out = transpose(out, 0, 1);
  Tensor w;
  if (args.need_weights) w = args.average_attn_weights ? mean(weights, {1}) : weights;
  return {out, w};
}

std::pair<Tensor, Tensor> MultiheadAttention::operator()(const Tensor& query, const Tensor& key,
                                                         const Tensor& value,
                                                         const AttentionArgs& args) {
  pending_ = args;
  struct Clear {
    std::optional<AttentionArgs>& p;
    ~Clear() { p.reset(); }
  } clear{pending_};
  auto out = call({query, key, value, args.key_padding_mask, args.attn_mask});
  return {out.at(0), out.size() > 1 ? out[1] : Tensor()};
}

std::vector<Tensor> MultiheadAttention::forward_list(const std::vector<Tensor>& in) {
  DS_CHECK(in.size() >= 3 && in.size() <= 5,
           "[MultiheadAttention] takes query, key, value "
           "[, key_padding_mask [, attn_mask]], got ",
           in.size(), " inputs");
  AttentionArgs args = pending_.value_or(AttentionArgs{});
  pending_.reset();
  args.key_padding_mask = in.size() > 3 ? in[3] : Tensor();
  args.attn_mask = in.size() > 4 ? in[4] : Tensor();
  auto [out, w] = forward(in[0], in[1], in[2], args);
  return {out, w};
}

std::string MultiheadAttention::extra_repr() const { return ""; }

}  // namespace deepseek::nn
